// The subscriptions of one link, shared by the watches of the same variable: one Subscribe for the first watch,
// one Unsubscribe after the last. A subscription skips the client's own writes only while every watch of it asked to:
// a watch that wants them subscribes again without the flag.

import type { WatchState } from "./watch.js";

interface Entry {
  holders: Set<WatchState>;
  subscribed: Promise<unknown>;
  skipping: boolean;
}

export class Subscriptions {
  private readonly entries = new Map<string, Entry>();
  private readonly keys = new Map<WatchState, string>();

  /** Subscribes for `watch`, or joins the subscription another watch of the same variable made. */
  async acquire(watch: WatchState, subscribe: (skipOwnWrites: boolean) => Promise<unknown>): Promise<void> {
    this.release(watch);
    const key = `${watch.service.id}\n${watch.variable}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const skipping = watch.skipOwnWrites;
      entry = { holders: new Set(), subscribed: subscribe(skipping), skipping };
      this.entries.set(key, entry);
      const created = entry;
      created.subscribed.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
    } else if (entry.skipping && !watch.skipOwnWrites) {
      // The server sets the flag anew on a Subscribe of the same variable.
      entry.skipping = false;
      const earlier = entry.subscribed;
      entry.subscribed = earlier.then(() => subscribe(false));
    }
    entry.holders.add(watch);
    this.keys.set(watch, key);
    await entry.subscribed;
  }

  /** Drops `watch`'s hold; true if it was the last holder, so the subscription should end. */
  release(watch: WatchState): boolean {
    const key = this.keys.get(watch);
    if (key === undefined) return false;
    this.keys.delete(watch);
    const entry = this.entries.get(key);
    if (!entry) return false;
    entry.holders.delete(watch);
    if (entry.holders.size > 0) return false;
    this.entries.delete(key);
    return true;
  }

  /** A new link holds no subscriptions. */
  clear(): void {
    this.entries.clear();
    this.keys.clear();
  }
}
