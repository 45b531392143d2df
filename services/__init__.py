"""The application layer: what the app's pages, app.py and cli.py call, and the only caller of
`connectors/` and `billing/` from those entry points (SPEC §1; conventions in docs/DESIGN.md).

- `services.context`   — `Actor` (who acts, how they signed in) and `Workspace` (the store, or the
                         demo's sandbox store); `authorize` is where every action's permission check is.
- `services.workspace` — imports, the current data, import history and differences, mappings.
- `services.analysis`  — `analyse_period` (the engine as of a date with the start-of-period state
                         computed once) and `restrict` (the sidebar filters).
- `services.actions`   — disputes and reminders, each taking the workspace and the actor.
"""
