// The tree of services and their variables, each row live: value, type, version, time since change, rate.

import { CommyError, formatValue, parseValue } from "../src/index.js";
import type { Change, Client, Service, Unwatch, ValueType } from "../src/index.js";
import { ago, element } from "./dom.js";
import { Sparkline } from "./sparkline.js";

interface Row {
  name: string;
  type: ValueType | undefined;
  version: number;
  changedAt: number | undefined;
  tr: HTMLTableRowElement;
  value: HTMLButtonElement;
  typeCell: HTMLTableCellElement;
  versionCell: HTMLTableCellElement;
  changedCell: HTMLTableCellElement;
  spark: Sparkline;
  editing: boolean;
  current: Change | undefined;
}

interface ServiceView {
  service: Service;
  section: HTMLDetailsElement;
  body: HTMLTableSectionElement;
  rows: Map<string, Row>;
  stop: Unwatch;
}

export class Tree {
  private readonly views = new Map<string, ServiceView>();
  private paused = false;
  private held = new Map<string, Change>();
  private query = "";

  constructor(
    private readonly root: HTMLElement,
    private readonly client: Client,
  ) {}

  /** Adds services that appeared and removes ones that went away. */
  async refresh(): Promise<void> {
    const names = await this.client.listServices();
    for (const name of names) if (!this.views.has(name)) await this.add(name);
    for (const [name, view] of this.views) {
      if (!names.includes(name)) {
        view.stop();
        view.section.remove();
        this.views.delete(name);
      }
    }
    if (this.views.size === 0 && !this.root.querySelector(".empty")) {
      this.root.append(element("p", { class: "muted empty" }, "No services yet in this tenant."));
    } else if (this.views.size > 0) {
      this.root.querySelector(".empty")?.remove();
    }
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) return;
    const held = this.held;
    this.held = new Map();
    for (const change of held.values()) this.apply(change);
  }

  filter(query: string): void {
    this.query = query.trim().toLowerCase();
    for (const view of this.views.values()) {
      const serviceMatches = view.service.name.toLowerCase().includes(this.query);
      let any = false;
      for (const row of view.rows.values()) {
        const show = serviceMatches || `${view.service.name}/${row.name}`.toLowerCase().includes(this.query);
        row.tr.hidden = !show;
        any ||= show;
      }
      view.section.hidden = !serviceMatches && !any;
    }
  }

  /** Updates the times and sparklines. */
  tick(): void {
    const now = Date.now();
    for (const view of this.views.values()) {
      for (const row of view.rows.values()) {
        row.changedCell.textContent = row.changedAt === undefined ? "—" : ago(now - row.changedAt);
        row.spark.draw(now);
      }
    }
  }

  stop(): void {
    for (const view of this.views.values()) view.stop();
    this.views.clear();
    this.root.replaceChildren();
  }

  private async add(name: string): Promise<void> {
    const service = await this.client.getService(name);
    const section = element("details", { class: "service", open: "" });
    section.append(element("summary", {}, name));
    const table = element("table");
    const head = element("thead");
    const headRow = element("tr");
    for (const title of ["Variable", "Value", "Type", "Version", "Changed", "Rate"]) {
      headRow.append(element("th", { scope: "col" }, title));
    }
    head.append(headRow);
    const body = element("tbody");
    table.append(head, body);
    section.append(table);
    this.root.append(section);
    const view: ServiceView = {
      service,
      section,
      body,
      rows: new Map(),
      stop: service.watch("*", (change) => this.receive(change)),
    };
    this.views.set(name, view);
    await this.describe(view);
    this.filter(this.query);
  }

  /** Learns the variables' types (and any variable not yet shown) from the server. */
  private async describe(view: ServiceView): Promise<void> {
    for (const info of await view.service.list()) {
      const row = this.rowOf(view, info.name);
      row.type = info.type;
      row.typeCell.textContent = info.type;
      if (row.current) this.show(row, row.current, false);
    }
  }

  private receive(change: Change): void {
    if (this.paused) {
      this.held.set(`${change.service}\n${change.variable}`, change);
      return;
    }
    this.apply(change);
  }

  private apply(change: Change): void {
    const view = this.views.get(change.service);
    if (!view) return;
    const known = view.rows.has(change.variable);
    const row = this.rowOf(view, change.variable);
    const live = row.current !== undefined;
    this.show(row, change, live);
    if (!known) void this.describe(view).catch(() => undefined);
  }

  private show(row: Row, change: Change, live: boolean): void {
    row.current = change;
    row.version = change.version;
    row.versionCell.textContent = String(change.version);
    if (live) {
      row.changedAt = Date.now();
      row.spark.record(row.changedAt);
      row.changedCell.textContent = ago(0);
      row.tr.classList.remove("flash");
      row.tr.getBoundingClientRect(); // restarts the animation
      row.tr.classList.add("flash");
    }
    if (!row.editing) {
      const text = formatValue(change.value, row.type);
      row.value.textContent = text;
      row.value.title = `${text} (click or press Enter to edit)`;
    }
  }

  private rowOf(view: ServiceView, name: string): Row {
    const existing = view.rows.get(name);
    if (existing) return existing;
    const tr = element("tr");
    const value = element("button", { type: "button", class: "value", "aria-label": `Value of ${name}` }, "…");
    const valueCell = element("td", { class: "value-cell" });
    valueCell.append(value);
    const typeCell = element("td", { class: "muted" }, "");
    const versionCell = element("td", { class: "muted version" }, "");
    const changedCell = element("td", { class: "muted" }, "—");
    const spark = new Sparkline(`rate of ${name}`);
    const sparkCell = element("td");
    sparkCell.append(spark.node);
    tr.append(element("td", { class: "name" }, name), valueCell, typeCell, versionCell, changedCell, sparkCell);
    const row: Row = {
      name,
      type: undefined,
      version: 0,
      changedAt: undefined,
      tr,
      value,
      typeCell,
      versionCell,
      changedCell,
      spark,
      editing: false,
      current: undefined,
    };
    value.addEventListener("click", () => this.edit(view, row, valueCell));
    // Keep rows sorted by name.
    const after = [...view.rows.values()].find((other) => other.name > name);
    view.body.insertBefore(tr, after ? after.tr : null);
    view.rows.set(name, row);
    return row;
  }

  /** Edits a value in place: typed input, checked before sending, written with compare-and-set. */
  private edit(view: ServiceView, row: Row, cell: HTMLTableCellElement): void {
    if (row.editing || !row.current) return;
    row.editing = true;
    const type = row.type ?? "bytes";
    const form = element("form", { class: "edit" });
    const input = element("input", {
      "aria-label": `New value of ${row.name} (${type})`,
      spellcheck: "false",
      autocomplete: "off",
    });
    input.value = formatValue(row.current.value, type);
    const save = element("button", { type: "submit" }, "Save");
    const cancel = element("button", { type: "button" }, "Cancel");
    const error = element("p", { class: "error", role: "alert" });
    form.append(input, save, cancel, error);
    row.value.hidden = true;
    cell.append(form);
    input.focus();
    input.select();
    const close = () => {
      form.remove();
      row.editing = false;
      row.value.hidden = false;
      if (row.current) this.show(row, row.current, false);
      row.value.focus();
    };
    cancel.addEventListener("click", close);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let value;
      try {
        value = parseValue(type, input.value);
      } catch (problem) {
        error.textContent = problem instanceof Error ? problem.message : String(problem);
        return;
      }
      save.disabled = true;
      error.textContent = "";
      view.service
        .compareAndSet(row.name, row.version, value)
        .then(close)
        .catch((problem: unknown) => {
          save.disabled = false;
          error.textContent = describeWriteError(problem);
        });
    });
  }
}

function describeWriteError(problem: unknown): string {
  if (problem instanceof CommyError) {
    if (problem.code === "CONFLICT") {
      return `Not written: the value changed meanwhile (${problem.message}). Check the new value and try again.`;
    }
    if (problem.code === "PERMISSION_DENIED") return `Not written: this key may not write here (${problem.message}).`;
    return `Not written: ${problem.message} (${problem.code})`;
  }
  return `Not written: ${String(problem)}`;
}
