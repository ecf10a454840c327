"""Everything that talks to people or to a model: narrators, service, CLI, Discord."""
