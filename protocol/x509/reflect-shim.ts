/**
 * The three `Reflect` metadata functions that tsyringe (a dependency of @peculiar/x509) checks for when it
 * loads, kept in a WeakMap. @peculiar/x509 registers only classes whose constructors take no arguments,
 * so nothing here ever holds real design-time metadata; the `reflect-metadata` package would do the same
 * with more code. Installed only where nothing else has installed it, and imported before @peculiar/x509.
 */
type MetadataTarget = object;
const store = new WeakMap<MetadataTarget, Map<unknown, unknown>>();

interface ReflectMetadata {
  getMetadata?(key: unknown, target: MetadataTarget): unknown;
  getOwnMetadata?(key: unknown, target: MetadataTarget): unknown;
  defineMetadata?(key: unknown, value: unknown, target: MetadataTarget): void;
}

const R = Reflect as typeof Reflect & ReflectMetadata;
if (typeof R.getMetadata !== "function") {
  R.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  R.getMetadata = (key, target) => {
    for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const v = store.get(t)?.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  R.defineMetadata = (key, value, target) => {
    let m = store.get(target);
    if (m === undefined) {
      m = new Map();
      store.set(target, m);
    }
    m.set(key, value);
  };
}
