// The e2e test bed's slots: two beds on one machine never share addresses or pools, and a run killed
// before its cleanup does not block the next one (the failure CI met when a killed run left 10.250.0.x on lo).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { claimSlot, slotNetwork } from "../../scripts/lab/e2e";

describe("e2e test bed slots", () => {
  it("two claims at once get different slots, with disjoint addresses and pools; a released slot is free again", () => {
    const first = claimSlot();
    const second = claimSlot();
    try {
      assert.notEqual(first.slot, second.slot);
      const a = slotNetwork(first.slot), b = slotNetwork(second.slot);
      const all = [...a, ...b];
      assert.equal(new Set(all.map((n) => n.address)).size, 4);
      assert.equal(new Set(all.map((n) => n.pool)).size, 4);
    } finally {
      second.release();
      first.release();
    }
    const again = claimSlot();
    again.release();
    assert.equal(again.slot, first.slot);
  });

  it("a slot whose owner died is taken over; one whose owner lives is not", async () => {
    const dead = spawn("true");
    const deadPid = await new Promise<number>((resolve) => dead.once("exit", () => resolve(dead.pid!)));
    const probe = claimSlot();
    probe.release();
    const owner = path.join(os.tmpdir(), "sf-e2e-slots", `slot-${probe.slot}.pid`);
    fs.writeFileSync(owner, String(deadPid));
    const taken = claimSlot();
    try {
      assert.equal(taken.slot, probe.slot);
      assert.equal(fs.readFileSync(owner, "utf8").trim(), String(process.pid));
    } finally {
      taken.release();
    }
    const alive = spawn("sleep", ["30"]);
    fs.writeFileSync(owner, String(alive.pid));
    const other = claimSlot();
    try {
      assert.notEqual(other.slot, probe.slot);
    } finally {
      other.release();
      alive.kill();
      fs.rmSync(owner, { force: true });
    }
  });
});
