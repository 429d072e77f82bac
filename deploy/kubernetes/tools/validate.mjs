// Validates Kubernetes objects against the Kubernetes OpenAPI schemas bundled
// in the npm package "kubernetes-models" (offline; no cluster needed), and
// refuses fields the schemas do not define (a typo such as "securityContex"
// would otherwise be silently dropped by the API server's non-strict decoding
// or rejected only at apply time).
//   node validate.mjs MODULES_DIR < objects.json
// objects.json: a JSON array of objects (e.g. `kubectl kustomize` output
// converted to JSON). Prints one line per object; exits 1 if any is invalid,
// has an unknown field, or is of a kind the package does not know.
//
// Unknown fields: the package's validators are compiled from the OpenAPI
// schemas and read exactly the properties a schema defines (and every key
// of a map such as labels or ConfigMap data). Each object and array of the
// input is wrapped in a Proxy that records which keys the validator read; a
// key it never read is not in the schema.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const root = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));

function track(value, where, seen) {
  if (value === null || typeof value !== "object") return value;
  const read = new Set();
  const copy = Array.isArray(value)
    ? value.map((v, i) => track(v, `${where}/${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(
        ([k, v]) => [k, track(v, `${where}/${k}`, seen)]));
  if (!Array.isArray(value)) seen.push({ where, keys: Object.keys(value), read });
  return new Proxy(copy, {
    get(t, k, r) { if (typeof k === "string") read.add(k); return Reflect.get(t, k, r); },
    has(t, k) { if (typeof k === "string") read.add(k); return Reflect.has(t, k); },
  });
}

function unknownFields(validate, obj) {
  const seen = [];
  validate(track(obj, "", seen));
  const out = [];
  for (const s of seen)
    for (const k of s.keys)
      if (!s.read.has(k)) out.push(`${s.where}/${k}`);
  return out;
}

let bad = 0;
for (const obj of objects) {
  const id = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.namespace ?? "-"}/${obj.metadata?.name}`;
  const file = path.join(root, "kubernetes-models", obj.apiVersion, `${obj.kind}.js`);
  let mod, schema;
  try {
    mod = await import(pathToFileURL(file).href);
    // The kind's module imports its compiled schema from ../_schemas/.
    const m = readFileSync(file, "utf8").match(/import\{validate\}from"([^"]+_schemas\/[^"]+\.js)"/);
    if (!m) throw new Error("no schema import in " + file);
    schema = (await import(pathToFileURL(path.resolve(path.dirname(file), m[1])).href)).validate;
  } catch (e) {
    console.log(`UNKNOWN ${id}: no schema (${e.code ?? e.message})`);
    bad++;
    continue;
  }
  try {
    new mod[obj.kind](obj).validate();
  } catch (e) {
    console.log(`INVALID ${id}: ${String(e.message).split("\n").slice(0, 5).join(" | ")}`);
    bad++;
    continue;
  }
  const unknown = unknownFields(schema, obj);
  if (unknown.length) {
    console.log(`INVALID ${id}: unknown field ${unknown.join(", ")}`);
    bad++;
    continue;
  }
  console.log(`valid ${id}`);
}
console.log(`${objects.length - bad} valid, ${bad} invalid`);
process.exit(bad ? 1 : 0);
