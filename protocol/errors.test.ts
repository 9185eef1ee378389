import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeError, errorFamily, type FamilyError, GridletError, isGridletError } from "./errors.js";

type ToyCode = "JAMMED" | "EMPTY";
interface ToyContexts {
  JAMMED: { slot: number };
}
const { Error: ToyError, is: isToyError } = errorFamily<ToyCode, ToyContexts>("ToyError");
type ToyError = FamilyError<ToyCode, ToyContexts>;
const { Error: OtherError } = errorFamily<"EMPTY">("OtherError");

describe("errorFamily", () => {
  it("makes a named GridletError class whose guard tells families and codes apart", () => {
    const e = new ToyError("JAMMED", "slot 3 is jammed", { slot: 3 });
    assert.ok(e instanceof ToyError && e instanceof GridletError && e instanceof Error);
    assert.ok(isGridletError(e));
    assert.equal(e.name, "ToyError");
    assert.equal(e.code, "JAMMED");
    assert.equal(e.message, "slot 3 is jammed");
    assert.match(String(e.stack), /^ToyError: slot 3 is jammed/);
    assert.equal(describeError(e), "JAMMED: slot 3 is jammed");

    assert.ok(isToyError(e) && isToyError(e, "JAMMED") && !isToyError(e, "EMPTY"));
    const other = new OtherError("EMPTY", "nothing here");
    assert.ok(!(other instanceof ToyError) && !isToyError(other) && !isToyError(new Error("x")));
    assert.deepEqual(new ToyError("EMPTY", "no context").context, {});
  });

  it("types the context of a listed code where the guard names it", () => {
    const caught: unknown = new ToyError("JAMMED", "jammed", { slot: 7 });
    const slot: number = isToyError(caught, "JAMMED") ? caught.context.slot : -1;
    assert.equal(slot, 7);
    // an unlisted code takes any record; a listed one insists on its context
    const e: ToyError = new ToyError("EMPTY", "empty", { anything: true });
    assert.equal(e.code, "EMPTY");
    // @ts-expect-error JAMMED needs its { slot } context
    assert.ok(new ToyError("JAMMED", "no slot"));
    // @ts-expect-error not a code of the family
    assert.ok(new ToyError("BROKEN", "typo"));
  });
});
