"""Lua scripting: EVAL/EVALSHA (one replicated write each), EVAL_RO/EVALSHA_RO, SCRIPT.

Module map: runtime (the Lua 5.1 VM from lupa, the sandbox in prelude.lua, the script
cache, instruction budget, Lua <-> reply conversions), luabit and luajson (the `bit` and
`cjson` libraries), commands (the commands and how a script's commands run).
"""
