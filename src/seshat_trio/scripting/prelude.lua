-- The sandbox scripts run in (seshat_trio/scripting/runtime.py), as Redis 7.0's.
--
-- Called once with the host's callbacks; returns the function that runs one script.
-- Scripts get a read-only global table (reading an unknown global is an error, as is
-- creating or replacing one), no os/io/debug/package/loadfile/dofile/require, the redis
-- table, bit, cjson, cmsgpack and struct, and a count hook that aborts a script past its instruction budget:
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
    if type(err) == 'userdata' then return text end  -- a library's error: its message
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
cmsgpack = host.cmsgpack
struct = host.struct
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

-- What a global name reads in a script's (or a function's) environment `environment`:
-- `views` caches the read-only views of library tables. An unknown name is an error that
-- points at the user's code (`level` frames up from here).
local function sandbox_lookup(views, environment, name, level)
  if name == '_G' then return environment end
  if name == 'loadstring' then
    -- Code a script compiles itself runs in its environment too.
    return function(text)
      if type(text) == 'string' and text:byte(1) == 27 then
        return nil, 'attempt to load a binary chunk'  -- Lua 5.1 bytecode is not verified
      end
      local fn, err = loadstring(text, '@user_script')
      if fn then setfenv(fn, environment) end
      return fn, err
    end
  end
  local value = rawget(globals, name)
  if value == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", level)
  end
  if type(value) == 'table' then
    local view = views[name]
    if view == nil then
      view = readonly(value)
      views[name] = view
    end
    return view
  end
  return value
end

local function fresh_environment(keys, argv)
  local views = {}
  local environment
  environment = setmetatable({}, {
    __index = function(_, name)
      if name == 'KEYS' then return keys end
      if name == 'ARGV' then return argv end
      return sandbox_lookup(views, environment, name, 3)
    end,
    __newindex = refuse,
    __metatable = false,
  })
  return environment
end

local USER_CODE = {['@user_script'] = true, ['@user_function'] = true}

local function handler(err)
  local info
  for level = 2, 20 do
    local frame = getinfo(level, 'nSl')
    if frame == nil then break end
    if USER_CODE[frame.source] then
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
        if frame and USER_CODE[frame.source] then error({err = abort_message()}, 0) end
      end, '', 1)
      error({err = abort_message()}, 0)
    end
  end
  sethook(hook, '', host.budget_step)
end

-- Compile `body` into a function (nil and the error when it does not compile).
local function compile(body, name)
  if body:byte(1) == 27 then return nil, 'attempt to load a binary chunk' end
  return loadstring(body, name or '@user_script')
end

-- Run a script (`keys` and `argv` are its KEYS and ARGV) or, when `is_function`, a
-- library's function (called with keys and argv): ok and its value, or false and its
-- error table. The count hook is set on the running thread: a read-only script runs in a
-- coroutine of its own (runtime.py), so its hook never disturbs another run.
local function run(fn, keys, argv, is_function)
  local call = fn
  if is_function then
    call = function() return fn(keys, argv) end
  else
    setfenv(fn, fresh_environment(keys, argv))
  end
  arm()
  local ok, value = real_xpcall(call, handler)
  sethook()
  return ok, value
end

-- Function libraries (FUNCTION LOAD), as Redis 7.0's Lua engine: the library's code runs
-- once, where its globals are only `redis` with register_function, log and the version
-- (anything else is a nonexistent global); the functions it registers later see the
-- scripts' globals. Returns the registered functions in order ({name, callback, flags,
-- description}) or nil and the error text.
local FLAG_NAMES = {'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}

local function valid_name(name)
  return #name > 0 and not name:find('[^%w_]')
end
local BAD_NAME = 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long'

local function load_library(code, load_budget)
  local fn, compile_error = loadstring(code, '@user_function')
  if not fn then return nil, 'Error compiling function: ' .. tostring(compile_error) end
  local loading = true
  local registered, by_name = {}, {}

  local function read_flags(flags)
    local names = {}
    local i = 1
    while true do
      local flag = flags[i]
      if flag == nil then break end
      if type(flag) ~= 'string' and type(flag) ~= 'number' then return nil end
      local found
      for _, known in ipairs(FLAG_NAMES) do
        if known == string.lower(tostring(flag)) then found = known end
      end
      if not found then return nil end
      names[#names + 1] = found
      i = i + 1
    end
    return names
  end

  local function register_function(...)
    if not loading then
      lib_error('ERR redis.register_function can only be called on FUNCTION LOAD command')
    end
    local count = select('#', ...)
    if count < 1 or count > 2 then
      lib_error('ERR wrong number of arguments to redis.register_function')
    end
    local name, callback, flags, description
    if count == 1 then
      local args = ...
      if type(args) ~= 'table' then
        lib_error('ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      end
      flags = {}
      for key, value in pairs(args) do
        if type(key) ~= 'string' and type(key) ~= 'number' then
          lib_error('ERR named argument key given to redis.register_function is not a string')
        end
        key = string.lower(tostring(key))
        if key == 'function_name' then
          if type(value) ~= 'string' and type(value) ~= 'number' then
            lib_error('ERR function_name argument given to redis.register_function must be a string')
          end
          name = tostring(value)
        elseif key == 'description' then
          if type(value) ~= 'string' and type(value) ~= 'number' then
            lib_error('ERR description argument given to redis.register_function must be a string')
          end
          description = tostring(value)
        elseif key == 'callback' then
          if type(value) ~= 'function' then
            lib_error('ERR callback argument given to redis.register_function must be a function')
          end
          callback = value
        elseif key == 'flags' then
          if type(value) ~= 'table' then
            lib_error('ERR flags argument to redis.register_function must be a table representing function flags')
          end
          flags = read_flags(value)
          if flags == nil then lib_error('ERR unknown flag given') end
        else
          lib_error('ERR unknown argument given to redis.register_function')
        end
      end
      if name == nil then lib_error('ERR redis.register_function must get a function name argument') end
      if callback == nil then lib_error('ERR redis.register_function must get a callback argument') end
    else
      name, callback = ...
      if type(name) ~= 'string' and type(name) ~= 'number' then
        lib_error('ERR first argument to redis.register_function must be a string')
      end
      name = tostring(name)
      if type(callback) ~= 'function' then
        lib_error('ERR second argument to redis.register_function must be a function')
      end
      flags = {}
    end
    if not valid_name(name) then lib_error('ERR ' .. BAD_NAME) end
    if by_name[name] then lib_error('ERR Function already exists in the library') end
    by_name[name] = true
    registered[#registered + 1] = {
      name = name, callback = callback, flags = flags, description = description,
    }
  end

  local api = {
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  }
  local function missing(name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 3)
  end
  local library_redis = setmetatable({}, {
    __index = function(_, name)
      local value = api[name]
      if value == nil then missing(name) end
      return value
    end,
    __newindex = refuse,
    __metatable = false,
  })
  local views = {}
  local environment
  environment = setmetatable({}, {
    __index = function(_, name)
      if not loading then return sandbox_lookup(views, environment, name, 3) end
      if name == 'redis' then return library_redis end
      missing(name)
    end,
    __newindex = refuse,
    __metatable = false,
  })
  setfenv(fn, environment)
  -- A library that runs too long (an endless loop) is refused, after the same work on
  -- every node: its instructions are counted like a script's.
  local spent = 0
  sethook(function()
    spent = spent + host.budget_step
    if spent > load_budget then
      sethook(function()
        local frame = getinfo(2, 'S')
        if frame and USER_CODE[frame.source] then error({err = 'ERR FUNCTION LOAD timeout'}, 0) end
      end, '', 1)
      error({err = 'ERR FUNCTION LOAD timeout'}, 0)
    end
  end, '', host.budget_step)
  local ok, err = real_pcall(fn)
  sethook()
  loading = false
  if not ok then
    err = as_table(err)
    local text = type(err) == 'table' and tostring(err.err) or ('ERR ' .. tostring(err))
    return nil, 'Error registering functions: ' .. text
  end
  if #registered == 0 then return nil, 'No functions registered' end
  return registered
end

-- Where a library implemented in Python was called from, as C's luaL_where(L, 1) says it
-- ("user_script:1: "): level 2 is the library function, level 3 its caller.
local function where()
  local info = getinfo(3, 'Sl')
  if info and info.currentline > 0 then return info.short_src .. ':' .. info.currentline .. ': ' end
  return ''
end

return compile, run, load_library, where
