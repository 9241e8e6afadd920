"""Field, mutation and (later) subscription logic: thin, over loaders, store and auth."""
