// Watches that skip their own writes (`skipOwnWrites`, `Subscribe` with `skip_own_writes`), against a real
// `commy serve`, once per encoding: the client's own writes are not delivered, another connection's are.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "../src/index.js";
import type { Change } from "../src/index.js";
import { closeClients, ENCODINGS, fixture, track } from "./support/fixture.js";
import { CommyServer, until } from "./support/server.js";

for (const encoding of ENCODINGS) {
  describe(`own writes over ${encoding}`, () => {
    let server: CommyServer;
    before(async () => (server = await CommyServer.start()));
    after(async () => {
      await closeClients();
      await server.dispose();
    });

    test("a watch with skipOwnWrites gets the others' changes, not its client's", async () => {
      const { client, tenant, key } = await fixture(server, encoding);
      const svc = await client.createService("shared");
      await svc.allocate("n", { type: "u64" });
      const other = track(await connect(server.url, { tenant, apiKey: key, encoding }));
      const theirs = await other.getService("shared");

      const seen: Change[] = [];
      const stop = svc.watch("n", (change) => seen.push(change), { skipOwnWrites: true });
      await stop.ready;
      await svc.write("n", 1);
      await svc.write("n", 3);
      await theirs.write("n", 4);
      await until("the other client's write", () => seen.at(-1)?.value === 4);
      // Its own write after the other's, then the other's again.
      await svc.write("n", 5);
      await theirs.write("n", 6);
      await until("the other client's second write", () => seen.at(-1)?.value === 6);
      assert.deepEqual(
        seen.map((c) => c.value),
        [0, 4, 6],
        "the current value, then only the other client's writes",
      );

      // Without the option, nothing changes: its own writes arrive.
      const plain: Change[] = [];
      const stopPlain = other.getService("shared").then((s) => s.watch("n", (change) => plain.push(change)));
      await (await stopPlain).ready;
      await theirs.write("n", 8);
      await until("its own write", () => plain.at(-1)?.value === 8);
      stop();
      (await stopPlain)();
      await other.close();
      await client.close();
    });
  });
}
