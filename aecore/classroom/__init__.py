"""The classroom: lessons written as TOML files and the presets a teacher hands out."""
