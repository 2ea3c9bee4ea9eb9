"""Validates the seed examples against the JSON Schema files, as a Python worker would.

Usage: python3 validate_seed_examples.py SCHEMA_DIR FIXTURE_JSON

Uses only Debian's python3-jsonschema. For every example whose schema has a file:
the example must be valid; deleting any `required` field and mistyping any `typed` field
must make it invalid. Prints one JSON report on stdout; exits 1 when any check fails.
"""

import copy
import json
import os
import sys

from jsonschema import Draft202012Validator


def parse_path(path):
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def get_at(value, path):
    for part in parse_path(path):
        value = value[part]
    return value


def set_at(value, path, new_value):
    parts = parse_path(path)
    for part in parts[:-1]:
        value = value[part]
    value[parts[-1]] = new_value


def delete_at(value, path):
    parts = parse_path(path)
    for part in parts[:-1]:
        value = value[part]
    del value[parts[-1]]


def mistypes(value):
    """Values of another JSON type: the same rule as the TypeScript test."""
    out = ["true" if isinstance(value, bool) else True]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append(json.dumps(value))
    return out


def main():
    schema_dir, fixture_path = sys.argv[1], sys.argv[2]
    with open(fixture_path, encoding="utf-8") as f:
        examples = json.load(f)["examples"]

    validators = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".json"):
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
            validators[name[: -len(".json")]] = Draft202012Validator(schema)

    report = {"schemas": sorted(validators), "valid": 0, "rejected": 0, "failures": []}
    for example in examples:
        validator = validators.get(example["schema"])
        if validator is None:
            continue  # a zod-only schema (no JSON Schema file)
        label = "%s (seed %s)" % (example["name"], example["seed"])
        errors = [e.message for e in validator.iter_errors(example["value"])]
        if errors:
            report["failures"].append({"example": label, "expected": "valid", "errors": errors})
        else:
            report["valid"] += 1

        broken = []
        for path in example["required"]:
            value = copy.deepcopy(example["value"])
            delete_at(value, path)
            broken.append(("without " + path, value))
        for path in example["typed"]:
            for wrong in mistypes(get_at(example["value"], path)):
                value = copy.deepcopy(example["value"])
                set_at(value, path, wrong)
                broken.append(("%s = %s" % (path, json.dumps(wrong)), value))
        for what, value in broken:
            if validator.is_valid(value):
                report["failures"].append({"example": label, "expected": "invalid", "mutation": what})
            else:
                report["rejected"] += 1

    json.dump(report, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
