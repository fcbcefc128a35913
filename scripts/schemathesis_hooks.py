"""Schemathesis hooks for scripts/schemathesis.

API.md's manifest rules that JSON Schema cannot state (they are in the document's descriptions):
clientId, sequence and title unique in the batch, and the files' total size at most
maxTotalBytes. Schema-valid (positive) bodies are adjusted to keep them; negative bodies are left
alone, so every rule the schema does state is still probed.
"""

import schemathesis

MAX_TOTAL_BYTES = 1024 * 1024 * 1024


def trimmed(value):
    """What the server compares: strings after trimming, blank titles are absent."""
    if isinstance(value, str):
        return value.strip() or None
    # Anything unhashable is no value of the rule's (the rules apply to strings and integers).
    return value if isinstance(value, (int, float, bool, type(None))) else object()


def fresh(name, i, taken):
    """A value of rule `name` for file `i` that no file holds: the lowest free sequence (the
    first fresh guess, i + 1, may be a later file's), or a numbered string."""
    if name == "sequence":
        return next(n for n in range(1, 256) if n not in taken)
    prefix = "file" if name == "clientId" else "title"
    return next(v for n in range(len(taken) + 1) if (v := f"{prefix}-{i}-{n}") not in taken)


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    body = case.body
    if meta is None or not meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        return case
    names = ("clientId", "sequence", "title")
    # Every value some file holds, so a replacement never collides with a later file either.
    taken = {name: {trimmed(f.get(name)) for f in files} for name in names}
    seen = {name: set() for name in names}
    for i, f in enumerate(files):
        for name in names:
            if name in f and trimmed(f[name]) in seen[name]:
                f[name] = fresh(name, i, taken[name])
                taken[name].add(f[name])
            seen[name].add(trimmed(f.get(name)))
    sizes = [f.get("bytes") for f in files]
    if all(isinstance(b, int) for b in sizes) and sum(sizes) > MAX_TOTAL_BYTES:
        for f in files:
            f["bytes"] = max(1, min(f["bytes"], MAX_TOTAL_BYTES // len(files)))
    return case
