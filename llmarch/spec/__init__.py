"""The spec layer: YAML read with positions, the schema, the registry, resolve (spec -> IR)."""
