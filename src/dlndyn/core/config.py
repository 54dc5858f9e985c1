"""Config validation against JSON schemas, with errors that name the offending key."""

from __future__ import annotations

from pathlib import Path

import yaml


class ConfigError(ValueError):
    """The config does not match its schema or describes an invalid setting."""


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _messages(error, prefix: tuple) -> list[str]:
    """Readable lines for one jsonschema error, naming the key (and, for a union, the rule)."""
    path = [*prefix, *error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [f"config key '{key_path([*path, k])}' is not known" for k in extra]
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Report the alternative that got furthest, not the union: the deepest error, then one
        # whose type matched (a number below its minimum, not "is not of type 'array'").
        best = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type",
                                                 -len(e.message)))
        return _messages(best, prefix)
    return [f"config key '{key_path(path)}': {error.message}"]


def validate(config: dict, schema_path, prefix=()) -> dict:
    """Validate ``config`` against the schema at ``schema_path`` (draft 2020-12).

    Fills the schema's top-level defaults in place and returns the config. Raises ConfigError
    whose lines name each offending key, prefixed by ``prefix`` (e.g. the paper's key).
    """
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    for key, prop in schema.get("properties", {}).items():
        if "default" in prop:
            config.setdefault(key, prop["default"])
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [line for e in errors[:10] for line in _messages(e, tuple(prefix))]
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines))
    return config


def expand_dotted(config: dict) -> dict:
    """Turn dotted top-level keys (``--config bordelon25.figures.fig4.D=64``) into nested ones,
    in place, so that the command line can override one deep value."""
    for key in [k for k in config if isinstance(k, str) and "." in k]:
        value = config.pop(key)
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = value
    return config


def coerce_numbers(value):
    """Turn numeric strings inside nested dicts and lists into numbers.

    Snakemake passes nested ``--config key={a: {b: 1}}`` values as strings; this restores the
    types YAML would have given, so the schema sees what the user meant.
    """
    if isinstance(value, dict):
        return {k: coerce_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_numbers(v) for v in value]
    if isinstance(value, str):
        parsed = yaml.safe_load(value) if value.strip() else value
        if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            return parsed
    return value


def validate_workflow_config(config: dict, schema_dir) -> dict:
    """Validate a whole workflow config: the shared keys against ``config.schema.yaml`` and each
    paper's block against ``<paper>.schema.yaml`` (numeric strings from the command line are
    turned into numbers first). Returns the config, defaults filled in."""
    schema_dir = Path(schema_dir)
    expand_dotted(config)
    for key in list(config):
        config[key] = coerce_numbers(config[key])
    validate(config, schema_dir / "config.schema.yaml")
    for paper in config:
        if (schema_dir / f"{paper}.schema.yaml").exists() and isinstance(config[paper], dict):
            validate(config[paper], schema_dir / f"{paper}.schema.yaml", prefix=(paper,))
    return config
