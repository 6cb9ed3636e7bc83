-- The sandbox scripts run in (seshat_trio/scripting/runtime.py), as Redis 7.0's.
--
-- Called once with the host's callbacks; returns the function that runs one script.
-- Scripts get a read-only global table (reading an unknown global is an error, as is
-- creating or replacing one), no os/io/debug/package/loadfile/dofile/require, the redis
-- table, bit and cjson, and a count hook that aborts a script past its instruction budget:
-- once it fired, it fires on every instruction, so pcall cannot catch its way past it.
local host = ...

local error, type, tostring, select = error, type, tostring, select
local setmetatable, setfenv, rawget, rawset, unpack = setmetatable, setfenv, rawget, rawset, unpack
local sethook, getinfo = debug.sethook, debug.getinfo

local loadstring, load = loadstring, load
local hidden = {
  'loadfile', 'dofile', 'require', 'module', 'package', 'io', 'os', 'debug', 'python',
  'print', 'gcinfo', 'newproxy', 'getfenv', 'setfenv', 'load', 'loadstring',
}
for _, name in ipairs(hidden) do _G[name] = nil end

local redis = {}
redis.REDIS_VERSION = host.version
redis.REDIS_VERSION_NUM = host.version_num
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

local function lib_error(message)
  error({err = message}, 0)
end

-- redis.call is a host (C) function, as in Redis: a script's `return redis.call(...)` keeps
-- its frame, so an error names the script's line. The host raises a command's error as a
-- string marked by CALL_ERROR; the error handler and pcall/xpcall turn it into Redis's
-- error table {err = ...}.
local CALL_ERROR = host.call_error
local marked = #CALL_ERROR
local function as_table(err)
  if type(err) ~= 'table' then
    local text = tostring(err)  -- a host error arrives as the exception, not a string
    if text:sub(1, marked) == CALL_ERROR then return {err = text:sub(marked + 1)} end
  end
  return err
end
redis.call = host.call
redis.pcall = host.pcall
local real_pcall, real_xpcall = pcall, xpcall
pcall = function(...)
  local results = {real_pcall(...)}
  if not results[1] then results[2] = as_table(results[2]) end
  return unpack(results, 1, table.maxn(results))
end
xpcall = function(fn, on_error)
  return real_xpcall(fn, function(err) return on_error(as_table(err)) end)
end
redis.error_reply = function(message)
  if type(message) ~= 'string' then lib_error('ERR wrong number or type of arguments') end
  return host.error_table(message)
end
redis.status_reply = function(message)
  if type(message) ~= 'string' then lib_error('ERR wrong number or type of arguments') end
  return {ok = message}
end
redis.sha1hex = function(text)
  if type(text) ~= 'string' and type(text) ~= 'number' then
    lib_error('wrong number of arguments')
  end
  return host.sha1hex(tostring(text))
end
redis.log = function(level, ...)
  if select('#', ...) == 0 then lib_error('redis.log() requires two arguments or more.') end
  if type(level) ~= 'number' then lib_error('First argument must be a number (log level).') end
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  host.log(level, table.concat(parts, ' '))
end
redis.setresp = function(version)
  if version ~= 2 and version ~= 3 then
    lib_error('RESP version must be 2 or 3.')
  end
  host.setresp(version)
end
redis.set_repl = function() end  -- effects always replicate whole: a script is one entry
redis.replicate_commands = function() return true end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.breakpoint = function() return false end
redis.debug = function() end

-- Redis's math.random: its own rand48 sequence, restarted for every script (deterministic).
math.random = host.random
math.randomseed = host.randomseed

bit = host.bit
cjson = host.cjson
_G.redis = redis

-- Scripts see the globals read-only, libraries included: every run gets a fresh, empty
-- environment that reads through to read-only views and refuses every write, so nothing
-- a script does outlives it (a read-only script runs on one node only: it must leave no
-- state that would make the nodes differ).
local globals = _G
local function refuse() error('Attempt to modify a readonly table', 2) end

local function readonly(target)
  return setmetatable({}, {__index = target, __newindex = refuse, __metatable = false})
end

local function fresh_environment()
  local views = {}
  local environment
  environment = setmetatable({}, {
    __index = function(_, name)
      if name == '_G' then return environment end
      local value = rawget(globals, name)
      if value == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
      end
      if type(value) == 'table' and name ~= 'KEYS' and name ~= 'ARGV' then
        local view = views[name]
        if view == nil then
          view = readonly(value)
          views[name] = view
        end
        return view
      end
      return value
    end,
    __newindex = refuse,
    __metatable = false,
  })
  -- Code a script compiles itself runs in its environment too.
  views.loadstring = function(text)
    if type(text) == 'string' and text:byte(1) == 27 then
      return nil, 'attempt to load a binary chunk'  -- Lua 5.1 bytecode is not verified
    end
    local fn, err = loadstring(text, '@user_script')
    if fn then setfenv(fn, environment) end
    return fn, err
  end
  rawset(globals, 'loadstring', views.loadstring)
  return environment
end

local function handler(err)
  local info
  for level = 2, 20 do
    local frame = getinfo(level, 'nSl')
    if frame == nil then break end
    if frame.source == '@user_script' then
      info = frame
      break
    end
  end
  err = as_table(err)
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

local tick, abort_message = host.tick, host.abort_message

local function arm()
  local function hook()
    if tick() then
      -- From now on every instruction of the script fails: pcall cannot keep it going.
      sethook(function()
        local frame = getinfo(2, 'S')
        if frame and frame.source == '@user_script' then error({err = abort_message()}, 0) end
      end, '', 1)
      error({err = abort_message()}, 0)
    end
  end
  sethook(hook, '', host.budget_step)
end

-- Compile `body` into a function (nil and the error when it does not compile).
local function compile(body)
  if body:byte(1) == 27 then return nil, 'attempt to load a binary chunk' end
  return loadstring(body, '@user_script')
end

-- Run a compiled script: ok and its value, or false and its error table.
local function run(fn, keys, argv)
  setfenv(fn, fresh_environment())
  rawset(globals, 'KEYS', keys)
  rawset(globals, 'ARGV', argv)
  arm()
  local ok, value = real_xpcall(fn, handler)
  sethook()
  rawset(globals, 'KEYS', nil)
  rawset(globals, 'ARGV', nil)
  rawset(globals, 'loadstring', nil)
  return ok, value
end

return compile, run
