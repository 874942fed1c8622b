// A service of the tenant: its variables, read, written and watched by name.

import type { Fields } from "./codec.js";
import { toNumber } from "./codec.js";
import { CommyError } from "./errors.js";
import type { ChangeListener, Unwatch, WatchOptions } from "./watch.js";
import { WatchState } from "./watch.js";
import type { Change, Value, ValueType, VariableInfo } from "./values.js";
import { changeOf, variableInfoOf, writeFields } from "./values.js";

/** What a Service needs of its client. */
export interface ServiceHost {
  readonly tenant: string;
  call(type: string, data: Fields): Promise<Fields>;
  addWatch(watch: WatchState): void;
  removeWatch(watch: WatchState): void;
  reportError(error: CommyError): void;
}

export interface AllocateOptions {
  /** The variable's type; `bytes` when left out. */
  type?: ValueType;
  /** The first value; the type's zero value when left out. A `Uint8Array` is sent as raw bytes. */
  initial?: Value;
  /** Bytes to reserve; the type's size for numbers and bool, 256 for the others, when left out. */
  capacity?: number;
  /** Keep the value across a server restart. */
  persistent?: boolean;
}

export class Service {
  /** The types of the variables this client has allocated or listed, to read their bytes right. */
  private readonly types = new Map<string, ValueType>();

  /** @internal Use `Client.createService` or `Client.getService`. */
  constructor(
    private readonly host: ServiceHost,
    readonly name: string,
    private serviceId: string,
  ) {}

  /** The server's id of the service (it may change when the client reconnects to another server). */
  get id(): string {
    return this.serviceId;
  }

  get tenant(): string {
    return this.host.tenant;
  }

  /** @internal */
  setId(id: string): void {
    this.serviceId = id;
  }

  /** @internal */
  typeOf(variable: string): ValueType | undefined {
    return this.types.get(variable);
  }

  /** Allocates a variable; ALREADY_EXISTS if the name is taken. Resolves with its first value and version. */
  async allocate(variable: string, options: AllocateOptions = {}): Promise<Change> {
    const fields: Fields = { service_id: this.id, variable_name: variable };
    if (options.type !== undefined) fields.type = options.type;
    if (options.capacity !== undefined) fields.capacity = options.capacity;
    if (options.persistent !== undefined) fields.persistent = options.persistent;
    if (options.initial !== undefined) {
      const initial = writeFields(options.initial, options.type ?? "bytes");
      if (initial.data !== undefined) fields.initial_data = initial.data;
      else fields.value = initial.value;
    }
    const reply = await this.host.call("AllocateVariable", fields);
    this.types.set(variable, options.type ?? "bytes");
    return changeOf(this.name, reply, options.type ?? "bytes");
  }

  /** The variable's current value and version; NOT_FOUND if it does not exist. */
  async read(variable: string): Promise<Change> {
    const reply = await this.host.call("ReadVariable", { service_id: this.id, variable_name: variable });
    return changeOf(this.name, reply, this.types.get(variable));
  }

  /**
   * Writes `value` (a `Uint8Array` writes raw bytes) and resolves with the new version. A value that does not fit the
   * variable's type or capacity is INVALID_REQUEST and changes nothing.
   */
  async write(variable: string, value: Value): Promise<number> {
    const fields = { service_id: this.id, variable_name: variable, ...writeFields(value, this.types.get(variable)) };
    const reply = await this.host.call("WriteVariable", fields);
    return toNumber(reply.version) ?? 0;
  }

  /**
   * Writes `value` only if the variable is still at `expectedVersion`; resolves with the new version, or rejects with
   * CONFLICT, whose `currentVersion` is the variable's version. The request carries `expected_version`, and the
   * server compares under the variable's write lock, atomically with every other writer (remote or through a mapping).
   */
  async compareAndSet(variable: string, expectedVersion: number, value: Value): Promise<number> {
    const fields = {
      service_id: this.id,
      variable_name: variable,
      expected_version: expectedVersion,
      ...writeFields(value, this.types.get(variable)),
    };
    const reply = await this.host.call("WriteVariable", fields);
    return toNumber(reply.version) ?? 0;
  }

  /** Frees the variable; its name may be allocated again. */
  async deallocate(variable: string): Promise<void> {
    await this.host.call("DeallocateVariable", { service_id: this.id, variable_name: variable });
    this.types.delete(variable);
  }

  /** Every variable of the service, with its type, capacity, length, version and persistence. */
  async list(): Promise<VariableInfo[]> {
    const reply = await this.host.call("ListVariables", { service_id: this.id });
    const entries = Array.isArray(reply.variables) ? (reply.variables as Fields[]) : [];
    const variables = entries.map(variableInfoOf);
    for (const variable of variables) this.types.set(variable.name, variable.type);
    return variables;
  }

  /**
   * Calls `listener` with the variable's current value, then with every change, in version order. Changes may be
   * coalesced, but the last one always arrives. `"*"` watches every variable of the service, including ones
   * allocated later. The watch survives reconnects: after one, the listener gets the current value if it moved
   * while the link was down. Returns the function that stops the watch; its `ready` promise settles once the watch
   * is subscribed (rejecting with, for example, NOT_FOUND).
   */
  watch(variable: string, listener: ChangeListener, options: WatchOptions = {}): Unwatch {
    const report = (error: CommyError) => this.host.reportError(error);
    const state = new WatchState(this, variable, listener, options.onError, report, options.skipOwnWrites ?? false);
    this.host.addWatch(state);
    const stop = () => this.host.removeWatch(state);
    return Object.assign(stop, { ready: state.ready });
  }

  /** Changes of `variable` (or `"*"`) as an async iterator; leaving the loop stops the watch. */
  async *changes(variable: string): AsyncGenerator<Change, void, undefined> {
    const queue: Change[] = [];
    let wake: (() => void) | undefined;
    let failure: CommyError | undefined;
    const stop = this.watch(
      variable,
      (change) => {
        queue.push(change);
        wake?.();
      },
      {
        onError: (error) => {
          failure = error;
          wake?.();
        },
      },
    );
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stop();
    }
  }

  /** @internal Offers `watch`, just subscribed, the current value of what it watches. */
  async offerCurrent(watch: WatchState, call: (type: string, data: Fields) => Promise<Fields>): Promise<void> {
    if (watch.wantsAll) {
      const listed = await call("ListVariables", { service_id: this.id });
      const entries = Array.isArray(listed.variables) ? (listed.variables as Fields[]) : [];
      const names = entries.map(variableInfoOf).map((info) => {
        this.types.set(info.name, info.type);
        return info.name;
      });
      const reads = await Promise.allSettled(
        names.map((name) => call("ReadVariable", { service_id: this.id, variable_name: name })),
      );
      for (const read of reads) {
        // A variable deleted between the list and the read is simply not there any more.
        if (read.status === "fulfilled") watch.offer(this.changeFrom(read.value));
        else if (!(read.reason instanceof CommyError && read.reason.code === "NOT_FOUND")) throw read.reason;
      }
    } else {
      watch.offer(this.changeFrom(await call("ReadVariable", { service_id: this.id, variable_name: watch.variable })));
    }
  }

  /** @internal A Change from a `VariableData` or `VariableChanged` message of this service. */
  changeFrom(fields: Fields): Change {
    return changeOf(this.name, fields, this.types.get(String(fields.variable_name)));
  }
}
