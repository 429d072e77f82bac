// Validates Kubernetes objects against the Kubernetes OpenAPI schemas bundled
// in the npm package "kubernetes-models" (offline; no cluster needed).
//   node validate.mjs MODULES_DIR < objects.json
// objects.json: a JSON array of objects (e.g. `kubectl kustomize` output
// converted to JSON). Prints one line per object; exits 1 if any is invalid
// or of a kind the package does not know.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const root = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const obj of objects) {
  const id = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.namespace ?? "-"}/${obj.metadata?.name}`;
  const file = path.join(root, "kubernetes-models", obj.apiVersion, `${obj.kind}.js`);
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    console.log(`UNKNOWN ${id}: no schema (${e.code ?? e.message})`);
    bad++;
    continue;
  }
  try {
    new mod[obj.kind](obj).validate();
    console.log(`valid ${id}`);
  } catch (e) {
    console.log(`INVALID ${id}: ${String(e.message).split("\n").slice(0, 5).join(" | ")}`);
    bad++;
  }
}
console.log(`${objects.length - bad} valid, ${bad} invalid`);
process.exit(bad ? 1 : 0);
