"""The games' rules as plain state machines (no Discord): 联句 (chain), 飞花令 (feihua) and
对对联 (duilian), and the service that keeps them in storage. The cogs, the console and the
tests all drive the same code."""
