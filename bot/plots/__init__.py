"""Figure builders. Each module here imports matplotlib at its top, so import them only
inside a render function (see :mod:`bot.chart`): the bot process itself never loads them.
"""
