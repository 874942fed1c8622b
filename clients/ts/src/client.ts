// The client: one logical connection to a Commy tenant that survives server restarts and network drops.

import type { Encoding, Envelope, Fields } from "./codec.js";
import { SUBPROTOCOLS } from "./codec.js";
import { asCommyError, CommyError } from "./errors.js";
import { Emitter } from "./events.js";
import { Link } from "./link.js";
import { Liveness } from "./liveness.js";
import type { Credential, TokenSource } from "./token.js";
import { credentialOf, refreshDelayMs } from "./token.js";
import { Service } from "./service.js";
import type { ServiceHost } from "./service.js";
import type { WebSocketFactory } from "./socket.js";
import { openSocket } from "./socket.js";
import { ServerList, serverUrls } from "./servers.js";
import { Subscriptions } from "./subscriptions.js";
import type { WatchState } from "./watch.js";

/** The documented connection states. */
export type Status = "connecting" | "open" | "reconnecting" | "closed";

/** What the `reconnect` event reports: the server the client is on now, and the one whose link dropped. */
export interface ReconnectEvent {
  url: string;
  previousUrl: string;
  /** How many rounds through the URL list it took (1: a server of the first round took the client back). */
  rounds: number;
}

export interface ClientEvents {
  /** The connection state changed. */
  status: Status;
  /** The client is open again after a drop, signed in, its watches subscribed again (on `url`, perhaps another). */
  reconnect: ReconnectEvent;
  /** Something went wrong that no call could report: a reconnect attempt failed, a watch ended, a token refresh failed. */
  error: CommyError;
}

export interface ConnectOptions {
  /** The tenant to sign in to. */
  tenant: string;
  /** A tenant API key (for servers and scripts; a browser should use `getToken`). */
  apiKey?: string;
  /**
   * Returns a short-lived token: one from `createToken` (called by the application's backend), or a JWT signed with
   * the tenant's `SetJwtKey` key. Called on every (re)connect and again before the token expires (from its `exp`
   * claim, or `expiresAtMs`).
   */
  getToken?: TokenSource;
  /** `json` (default) or `msgpack`. */
  encoding?: Encoding;
  /** How long a request may wait for its reply, including time spent reconnecting. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** How long one WebSocket may take to open. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /**
   * After a drop, try each server of the list in turn (starting with the next one), and wait a jittered exponential
   * backoff between full rounds (default on). After `maxRounds` failed rounds (default: no limit) the client closes
   * with CONNECTION_LOST naming every server. `false` closes the client when the link drops.
   */
  reconnect?: false | { initialDelayMs?: number; maxDelayMs?: number; maxRounds?: number };
  /** A heartbeat is sent after this long (default 15 000 ms); a link that does not answer in time is dropped. */
  heartbeatIntervalMs?: number;
  /** How long a heartbeat may take before the link counts as dead. Default 5 000 ms. */
  heartbeatTimeoutMs?: number;
  /** The name and version sent to the server for its log. */
  clientVersion?: string;
  /** A WebSocket implementation to use instead of the browser's or the `ws` package's. */
  WebSocket?: WebSocketFactory;
}

const VERSION = "@commy/client/0.1.0";

/**
 * Connects to the first server of `urls` (one URL, a comma-separated string of them, or a list) that answers, signs
 * in to `options.tenant`, and resolves with the client. Rejects with CONNECTION_LOST naming every server if none could
 * be reached, or UNAUTHORIZED if the credential was refused.
 */
export async function connect(urls: string | readonly string[], options: ConnectOptions): Promise<Client> {
  const client = new Client(urls, options);
  await client.start();
  return client;
}

export class Client extends Emitter<ClientEvents> implements ServiceHost {
  private state: Status = "connecting";
  private link: Link | undefined;
  private readonly servers: ServerList;
  /** Why the client closed by itself (every server unreachable for `maxRounds` rounds). */
  private failure: CommyError | undefined;
  private readonly services = new Map<string, Service>();
  private readonly watches = new Set<WatchState>();
  private readonly subscriptions = new Subscriptions();
  private readonly liveness: Liveness;
  private waiters: (() => void)[] = [];
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeBackoff: (() => void) | undefined;
  private lastDisconnect = "";

  /** @internal Use `connect`. */
  constructor(
    urls: string | readonly string[],
    private readonly options: ConnectOptions,
  ) {
    super();
    if (!options.tenant) throw new CommyError("INVALID_REQUEST", "connect needs options.tenant");
    if ((options.apiKey === undefined) === (options.getToken === undefined)) {
      throw new CommyError("INVALID_REQUEST", "connect needs exactly one of options.apiKey and options.getToken");
    }
    this.servers = new ServerList(serverUrls(urls));
    this.liveness = new Liveness({
      intervalMs: options.heartbeatIntervalMs ?? 15_000,
      timeoutMs: options.heartbeatTimeoutMs ?? 5_000,
      probe: (timeoutMs) => this.probe(timeoutMs),
      wake: () => this.wakeBackoff?.(),
    });
  }

  get tenant(): string {
    return this.options.tenant;
  }

  /** The connection state: connecting, open, reconnecting or closed. */
  get status(): Status {
    return this.state;
  }

  /** The server URL in use (or last used). */
  get url(): string {
    return this.servers.current;
  }

  /** Every server URL the client may use, in the order it tries them. */
  get urls(): readonly string[] {
    return this.servers.urls;
  }

  /** @internal Tries each server once, in order. */
  async start(): Promise<void> {
    for (let i = 0; i < this.servers.urls.length; i++) {
      this.servers.select(i);
      try {
        await this.establish();
        this.liveness.attach();
        return;
      } catch (error) {
        const commyError = asCommyError(error);
        // A refused credential or a bad request would be refused by every server alike.
        if (commyError.code === "UNAUTHORIZED" || commyError.code === "INVALID_REQUEST") {
          this.setStatus("closed");
          throw commyError;
        }
        this.servers.failed(commyError);
      }
    }
    this.setStatus("closed");
    throw this.servers.unreachable(1);
  }

  /** Creates a service; ALREADY_EXISTS if it exists. */
  async createService(name: string): Promise<Service> {
    const reply = await this.call("CreateService", { tenant_id: this.tenant, service_name: name });
    return this.serviceFrom(name, reply);
  }

  /** An existing service; NOT_FOUND if there is none (it is never created by this). */
  async getService(name: string): Promise<Service> {
    const reply = await this.call("GetService", { tenant_id: this.tenant, service_name: name });
    return this.serviceFrom(name, reply);
  }

  /** Deletes a service and its variables. */
  async deleteService(name: string): Promise<void> {
    await this.call("DeleteService", { tenant_id: this.tenant, service_name: name });
    this.services.delete(name);
  }

  /** The names of the tenant's services this credential may read. */
  async listServices(): Promise<string[]> {
    const reply = await this.call("ListServices", { tenant_id: this.tenant });
    const services = Array.isArray(reply.services) ? (reply.services as Fields[]) : [];
    return services.map((service) => String(service.service_name));
  }

  /**
   * Mints a short-lived token for this tenant carrying at most this client's own rights (`permissions`, limited to
   * `services` patterns if given, else to this client's own patterns), living `ttlSeconds` (at most the server's
   * maximum, and never past this client's own credential). It dies with the credential this client signed in with.
   * An application's backend calls this and hands the result to a page, whose `getToken` returns it as is.
   */
  async createToken(options: {
    ttlSeconds: number;
    permissions: string[];
    services?: string[];
  }): Promise<{ token: string; expiresAtMs: number }> {
    const data: Fields = { tenant_id: this.tenant, ttl_seconds: options.ttlSeconds, permissions: options.permissions };
    if (options.services !== undefined) data.services = options.services;
    const reply = await this.call("CreateToken", data);
    return { token: String(reply.token), expiresAtMs: Number(reply.expires_at_ms) };
  }

  /** Checks the link now (a heartbeat); a link that does not answer is dropped and the client reconnects. */
  async ping(timeoutMs = this.options.heartbeatTimeoutMs ?? 5_000): Promise<void> {
    await this.probe(timeoutMs);
  }

  /** Closes the connection for good; pending calls fail with CONNECTION_LOST and watches stop. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.setStatus("closed");
    this.liveness.detach();
    clearTimeout(this.refreshTimer);
    this.wakeBackoff?.();
    for (const watch of this.watches) watch.stopped();
    this.watches.clear();
    const link = this.link;
    this.link = undefined;
    if (link?.isOpen) {
      await link.request("Disconnect", {}, 1_000).catch(() => undefined);
      link.close();
    }
    this.releaseWaiters();
  }

  /** @internal Sends a request once the link is open, and resolves with the reply's fields. */
  async call(type: string, data: Fields): Promise<Fields> {
    try {
      return await this.callOnce(type, data);
    } catch (error) {
      // An expired grant: sign in again with a fresh token, then try once more.
      if (!(error instanceof CommyError) || error.code !== "UNAUTHORIZED" || !this.options.getToken) throw error;
      const link = await this.openLink();
      await this.authenticate(link);
      return this.callOnce(type, data);
    }
  }

  /** @internal */
  addWatch(watch: WatchState): void {
    if (this.state === "closed") {
      watch.fail(new CommyError("CONNECTION_LOST", "the client is closed"));
      return;
    }
    this.watches.add(watch);
    if (this.link) void this.startWatch(this.link, watch);
  }

  /** @internal */
  removeWatch(watch: WatchState): void {
    if (!this.watches.delete(watch)) return;
    watch.stopped();
    const link = this.link;
    if (link && this.subscriptions.release(watch)) {
      void link
        .request("Unsubscribe", { service_id: watch.service.id, variable_name: watch.variable }, this.requestTimeout)
        .catch(() => undefined);
    }
  }

  /** @internal */
  reportError(error: CommyError): void {
    this.emit("error", error);
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private get requestTimeout(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }

  private async callOnce(type: string, data: Fields): Promise<Fields> {
    const link = await this.openLink();
    return (await link.request(type, data, this.requestTimeout)).data;
  }

  /** The open link, waiting (up to the request timeout) while the client reconnects. */
  private async openLink(): Promise<Link> {
    const deadline = Date.now() + this.requestTimeout;
    while (!this.link || this.state !== "open") {
      if (this.state === "closed") throw this.failure ?? new CommyError("CONNECTION_LOST", "the client is closed");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new CommyError("CONNECTION_LOST", `not connected: still ${this.state} after ${this.requestTimeout} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.link;
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private serviceFrom(name: string, reply: Fields): Service {
    const id = String(reply.service_id);
    let service = this.services.get(name);
    if (service) service.setId(id);
    else {
      service = new Service(this, name, id);
      this.services.set(name, service);
    }
    return service;
  }

  private setStatus(status: Status): void {
    if (this.state === status) return;
    this.state = status;
    this.emit("status", status);
  }

  /**
   * Opens a link to the current URL, signs in, and resumes services and watches on it: resolves once every watch has
   * been subscribed again (or has failed).
   */
  private async establish(): Promise<void> {
    const encoding = this.options.encoding ?? "json";
    const socket = await openSocket(
      this.url,
      SUBPROTOCOLS[encoding],
      this.options.connectTimeoutMs ?? 5_000,
      this.options.WebSocket,
    );
    const link: Link = new Link(socket, encoding, {
      push: (message) => this.onPush(link, message),
      closed: (reason) => this.onLinkClosed(link, reason),
    });
    try {
      await this.authenticate(link);
      await this.refreshServiceIds(link);
    } catch (error) {
      link.close("sign-in failed");
      throw error;
    }
    if (this.isClosed()) {
      link.close();
      return;
    }
    this.link = link;
    this.servers.succeeded();
    this.subscriptions.clear();
    this.setStatus("open");
    this.liveness.linkOpened();
    this.releaseWaiters();
    await Promise.all([...this.watches].map((watch) => this.startWatch(link, watch)));
  }

  private async authenticate(link: Link): Promise<void> {
    const credential: Credential = await credentialOf(this.options);
    const reply = await link.request(
      "Authenticate",
      {
        tenant_id: this.tenant,
        client_version: this.options.clientVersion ?? VERSION,
        ...credential.fields,
      },
      this.requestTimeout,
    );
    if (reply.data.success === false) {
      const message = typeof reply.data.message === "string" ? reply.data.message : "authentication refused";
      throw new CommyError("UNAUTHORIZED", message);
    }
    this.scheduleRefresh(link, credential.expiresAtMs);
  }

  /** Signs in again with a fresh token a little before the current one expires. */
  private scheduleRefresh(link: Link, expiresAtMs: number | undefined): void {
    clearTimeout(this.refreshTimer);
    if (expiresAtMs === undefined || !this.options.getToken) return;
    this.refreshTimer = setTimeout(() => {
      if (link !== this.link || !link.isOpen) return;
      this.authenticate(link).catch((error: unknown) => {
        this.emit("error", asCommyError(error));
      });
    }, refreshDelayMs(expiresAtMs, Date.now()));
  }

  /** After a reconnect the server (perhaps another one) is asked for each known service's id again. */
  private async refreshServiceIds(link: Link): Promise<void> {
    await Promise.allSettled(
      [...this.services.values()].map(async (service) => {
        const reply = await link.request(
          "GetService",
          { tenant_id: this.tenant, service_name: service.name },
          this.requestTimeout,
        );
        service.setId(String(reply.data.service_id));
      }),
    );
  }

  private async startWatch(link: Link, watch: WatchState): Promise<void> {
    const call = async (type: string, data: Fields) => (await link.request(type, data, this.requestTimeout)).data;
    try {
      watch.beginResync();
      await this.subscriptions.acquire(watch, (skipOwnWrites) =>
        call("Subscribe", {
          service_id: watch.service.id,
          variable_name: watch.variable,
          ...(skipOwnWrites ? { skip_own_writes: true } : {}),
        }),
      );
      if (!watch.active || link !== this.link) return;
      await watch.service.offerCurrent(watch, call);
      watch.synced();
    } catch (error) {
      const commyError = asCommyError(error);
      if (commyError.code === "CONNECTION_LOST") return; // the next link resumes it
      if (commyError.code === "TIMEOUT") {
        link.close("a subscription timed out");
        return;
      }
      this.watches.delete(watch);
      this.subscriptions.release(watch);
      watch.fail(commyError);
    }
  }

  private onPush(link: Link, message: Envelope): void {
    if (link !== this.link) return;
    const serviceId = String(message.data.service_id);
    switch (message.type) {
      case "VariableChanged": {
        const variable = String(message.data.variable_name);
        for (const watch of this.watches) {
          if (watch.service.id === serviceId && watch.matches(variable)) {
            watch.offer(watch.service.changeFrom(message.data));
          }
        }
        break;
      }
      case "SubscriptionEnded": {
        // The grant behind it died: sign in again if a fresh token may help, then subscribe again; a refusal ends
        // the watch with the server's error.
        const variable = String(message.data.variable_name);
        const ended = [...this.watches].filter((w) => w.service.id === serviceId && w.variable === variable);
        for (const watch of ended) this.subscriptions.release(watch);
        const again = this.options.getToken ? this.authenticate(link) : Promise.resolve();
        void again
          .catch((error: unknown) => this.emit("error", asCommyError(error)))
          .then(() => {
            for (const watch of ended) if (watch.active) void this.startWatch(link, watch);
          });
        break;
      }
      case "Disconnected":
        this.lastDisconnect = typeof message.data.reason === "string" ? message.data.reason : "";
        break;
      default:
        // A push this client does not know, from a newer server: ignored.
        break;
    }
  }

  private onLinkClosed(link: Link, reason: string): void {
    if (link !== this.link) return;
    this.link = undefined;
    clearTimeout(this.refreshTimer);
    this.liveness.linkClosed();
    if (this.state === "closed") return;
    const why = this.lastDisconnect ? `${reason}; the server said: ${this.lastDisconnect}` : reason;
    this.lastDisconnect = "";
    if (this.options.reconnect === false) {
      this.emit("error", new CommyError("CONNECTION_LOST", why));
      void this.close();
      return;
    }
    void this.reconnect();
  }

  /**
   * Tries the servers in turn, starting with the next one, with a jittered exponential backoff between full rounds,
   * until one takes the client back or `maxRounds` rounds have failed.
   */
  private async reconnect(): Promise<void> {
    this.setStatus("reconnecting");
    const previousUrl = this.url;
    const settings = this.options.reconnect === false ? {} : (this.options.reconnect ?? {});
    const initial = settings.initialDelayMs ?? 200;
    const max = settings.maxDelayMs ?? 10_000;
    const maxRounds = settings.maxRounds ?? Infinity;
    for (let round = 1; ; round++) {
      for (let step = 0; step < this.servers.urls.length; step++) {
        if (this.isClosed()) return;
        this.servers.advance();
        try {
          await this.establish();
          if (this.state === "open") this.emit("reconnect", { url: this.url, previousUrl, rounds: round });
          return;
        } catch (error) {
          const commyError = asCommyError(error);
          this.servers.failed(commyError);
          this.emit("error", commyError);
        }
      }
      if (this.isClosed()) return;
      if (round >= maxRounds) {
        this.giveUp(this.servers.unreachable(round));
        return;
      }
      const ceiling = Math.min(max, initial * 2 ** Math.min(round - 1, 20));
      const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeBackoff = undefined;
    }
  }

  /** Every server stayed unreachable: the client closes, and waiting calls and every watch get `error`. */
  private giveUp(error: CommyError): void {
    this.failure = error;
    this.emit("error", error);
    for (const watch of this.watches) watch.fail(error);
    this.watches.clear();
    void this.close();
  }

  private async probe(timeoutMs: number): Promise<void> {
    const link = this.link;
    if (!link) return;
    try {
      await link.request("Heartbeat", {}, timeoutMs);
    } catch (error) {
      link.close(`no heartbeat reply: ${asCommyError(error).message}`);
      throw error;
    }
  }
}

