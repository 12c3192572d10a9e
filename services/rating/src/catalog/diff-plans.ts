import jsonPatch from 'fast-json-patch';

export type PatchOperation = ReturnType<typeof jsonPatch.compare>[number];

/** What changed from plan version `a` to `b`, as an RFC 6902 JSON Patch (reviewable, appliable). */
export function diffPlans(a: object, b: object): PatchOperation[] {
  return jsonPatch.compare(a, b);
}
