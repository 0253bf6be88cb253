"""Bot features, one extension each; `setup()` adds the feature's cog."""
