"""The Discord front-end: a thin layer of cogs over :class:`bot.service.AnalystService`."""
