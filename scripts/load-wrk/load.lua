-- The request kinds of scripts/load, as one wrk script (wrk 4, LuaJIT):
--   wrk -t1 -c32 -d3s -s scripts/load-wrk/load.lua URL -- KIND RUN_DIR
-- KIND is hello | healthz | register | uploads | status | downloads | callback | mixed.
-- RUN_DIR holds what scripts/load prepared, one value per line:
--   token, internal          the photographer's JWT and the internal service token
--   batches                  "LISTING BATCH_ID" of READY batches
--   callbacks                "TIMESTAMP<TAB>v1=SIGNATURE<TAB>BODY" duplicate results for them, signed
--   photo                    "BYTES SHA256" of the photo named in created manifests
--   <KIND>.base              the first listing id a register/uploads run uses
--   mixed.create.base, mixed.create.limit, mixed.register.base
-- Listing ids are handed out in order (base, base+1, ...), so a register run of N requests leaves
-- base..base+N-1 registered for a later uploads run. Run with one wrk thread: the counters are per thread.
--
-- Every response is counted by status class; in the mixed run the kind of a request travels in its
-- X-Request-Id (echoed by the service), so responses are counted per kind too. done() prints one
-- "RESULT key=value ..." line, and "SAMPLE ..." lines with the first non-2xx answer of each kind.

local kind, dir
local reqs, nreqs, i = {}, 0, 0
local token, internal, photo_bytes, photo_sum
local next_listing
local mix_create_next, mix_create_limit, mix_register_next
-- Globals, not locals: done() reads them from each thread with thread:get.
counts = {}
samples = {}
local threads = {}

local function read_lines(name)
  local lines = {}
  local f = io.open(dir .. "/" .. name, "r")
  if not f then return lines end
  for line in f:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  f:close()
  return lines
end

local function read_one(name)
  local l = read_lines(name)[1]
  if not l then error("scripts/load: " .. dir .. "/" .. name .. " is missing") end
  return l
end

local json_headers
local function auth(t)
  return { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t }
end

local function with_id(h, id)
  if not id then return h end
  local copy = {}
  for k, v in pairs(h) do copy[k] = v end
  copy["X-Request-Id"] = id
  return copy
end

local function hello(id) return wrk.format("GET", "/", with_id({}, id)) end
local function healthz(id) return wrk.format("GET", "/healthz", with_id({}, id)) end

local function register(listing, id)
  return wrk.format("PUT", "/api/v2/internal/listings/" .. listing, with_id(auth(internal), id),
    '{"status":"PENDING_PHOTO_PROCESSING","ownerUserId":12,"photographerUserId":7,"projectMedia":false}')
end

local function create(listing, id)
  local body = '{"listingIdentityId":' .. listing .. ',"batchReference":"load-' .. listing .. '",' ..
    '"files":[{"clientId":"photo-1","assetType":"PHOTO_HORIZONTAL","orientation":"HORIZONTAL",' ..
    '"filename":"living-room.jpg","contentType":"image/jpeg","bytes":' .. photo_bytes .. ',' ..
    '"checksum":"' .. photo_sum .. '","title":"Living room","sequence":1,"metadata":{"room":"living"}}]}'
  return wrk.format("POST", "/api/v2/listings/media/uploads", with_id(json_headers, id), body)
end

local function status_reqs(id)
  local out = {}
  for _, line in ipairs(read_lines("batches")) do
    local listing, batch = line:match("^(%S+)%s+(%S+)$")
    out[#out + 1] = wrk.format("POST", "/api/v2/listings/media/status", with_id(json_headers, id),
      '{"listingIdentityId":' .. listing .. ',"batchId":"' .. batch .. '"}')
  end
  return out
end

local resolutions = { "large", "thumbnail", "medium", "original", "small" }
local function download_reqs(id)
  local out = {}
  for n, line in ipairs(read_lines("batches")) do
    local listing, batch = line:match("^(%S+)%s+(%S+)$")
    local res = resolutions[(n - 1) % #resolutions + 1]
    out[#out + 1] = wrk.format("POST", "/api/v2/listings/media/downloads", with_id(json_headers, id),
      '{"listingIdentityId":' .. listing .. ',"batchId":"' .. batch .. '","resolution":"' .. res .. '"}')
  end
  return out
end

local function callback_reqs(id)
  local out = {}
  for _, line in ipairs(read_lines("callbacks")) do
    local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
    out[#out + 1] = wrk.format("POST", "/api/v2/listings/media/callback", with_id({
      ["Content-Type"] = "application/json", ["X-Toq-Timestamp"] = ts, ["X-Toq-Signature"] = sig }, id), body)
  end
  return out
end

-- The mixed run: what a day of traffic looks like, mostly clients polling a batch and fetching its
-- downloads, some creates, pipeline callbacks and platform registrations, the odd health check.
local mix = { "status", "downloads", "status", "create", "status", "healthz", "downloads", "status",
              "callback", "register", "status", "downloads" }
local mix_pre = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  kind, dir = args[1], args[2]
  if not kind or not dir then error("usage: wrk ... -s load.lua URL -- KIND RUN_DIR") end
  if kind ~= "hello" and kind ~= "healthz" then
    token = read_one("token")
    json_headers = auth(token)
  end
  if kind == "register" or kind == "mixed" then internal = read_one("internal") end
  if kind == "uploads" or kind == "mixed" then
    photo_bytes, photo_sum = read_one("photo"):match("^(%d+)%s+(%x+)$")
  end
  if kind == "register" or kind == "uploads" then
    next_listing = tonumber(read_one(kind .. ".base"))
  elseif kind == "hello" then reqs = { hello() }
  elseif kind == "healthz" then reqs = { healthz() }
  elseif kind == "status" then reqs = status_reqs()
  elseif kind == "downloads" then reqs = download_reqs()
  elseif kind == "callback" then reqs = callback_reqs()
  elseif kind == "mixed" then
    mix_create_next = tonumber(read_one("mixed.create.base"))
    mix_create_limit = tonumber(read_one("mixed.create.limit"))
    mix_register_next = tonumber(read_one("mixed.register.base"))
    mix_pre.status = status_reqs("mix-status")
    mix_pre.downloads = download_reqs("mix-downloads")
    mix_pre.callback = callback_reqs("mix-callback")
    mix_pre.healthz = { healthz("mix-healthz") }
  else
    error("unknown kind " .. kind)
  end
  nreqs = #reqs
  if (kind == "status" or kind == "downloads" or kind == "callback") and nreqs == 0 then
    error("no prepared batches in " .. dir)
  end
end

function request()
  i = i + 1
  if kind == "register" then
    next_listing = next_listing + 1
    return register(next_listing - 1)
  elseif kind == "uploads" then
    next_listing = next_listing + 1
    return create(next_listing - 1)
  elseif kind == "mixed" then
    local k = mix[(i - 1) % #mix + 1]
    if k == "create" then
      if mix_create_next < mix_create_limit then
        mix_create_next = mix_create_next + 1
        return create(mix_create_next - 1, "mix-create-" .. (mix_create_next - 1))
      end
      k = "status" -- the pool of registered listings is used up: poll instead
    elseif k == "register" then
      mix_register_next = mix_register_next + 1
      return register(mix_register_next - 1, "mix-register-" .. (mix_register_next - 1))
    end
    local list = mix_pre[k]
    return list[(i - 1) % #list + 1]
  end
  return reqs[(i - 1) % nreqs + 1]
end

function response(status, headers, body)
  local k = "all"
  if kind == "mixed" then
    local id = headers["x-request-id"] or headers["X-Request-Id"] or ""
    k = id:match("^mix%-(%a+)") or "unknown"
  end
  local class = "s" .. math.floor(status / 100)
  local key = k .. "." .. class
  counts[key] = (counts[key] or 0) + 1
  if status >= 300 and not samples[k] then
    samples[k] = status .. " " .. (body or ""):sub(1, 300):gsub("%s+", " ")
  end
end

-- done() runs in the main state: the threads' counters are read through thread:get.
function done(summary, latency, requests)
  local total = {}
  local sample_lines = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for key, n in pairs(c) do total[key] = (total[key] or 0) + n end
    local s = t:get("samples") or {}
    for k, v in pairs(s) do sample_lines[#sample_lines + 1] = "SAMPLE " .. k .. " " .. v end
  end
  local kinds = {}
  for key, _ in pairs(total) do
    local k = key:match("^(.-)%.s%d$")
    kinds[k] = true
  end
  local parts = {
    "requests=" .. summary.requests,
    "duration_us=" .. summary.duration,
    "p50_us=" .. latency:percentile(50),
    "p99_us=" .. latency:percentile(99),
    "max_us=" .. latency.max,
    "connect=" .. summary.errors.connect,
    "read=" .. summary.errors.read,
    "write=" .. summary.errors.write,
    "timeout=" .. summary.errors.timeout,
  }
  local s2, s4, s5, other = 0, 0, 0, 0
  for key, n in pairs(total) do
    local class = key:match("%.s(%d)$")
    if class == "2" then s2 = s2 + n elseif class == "4" then s4 = s4 + n
    elseif class == "5" then s5 = s5 + n else other = other + n end
  end
  parts[#parts + 1] = "s2=" .. s2
  parts[#parts + 1] = "s4=" .. s4
  parts[#parts + 1] = "s5=" .. s5
  parts[#parts + 1] = "other=" .. other
  -- (done() runs in wrk's main Lua state, where init() never ran: `kind` is unknown here.)
  if not kinds.all then -- only the mixed run counts per kind
    local names = {}
    for k, _ in pairs(kinds) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      parts[#parts + 1] = "kind." .. k .. "=" .. (total[k .. ".s2"] or 0) .. "/" .. (total[k .. ".s4"] or 0)
        .. "/" .. (total[k .. ".s5"] or 0)
    end
  end
  io.write("RESULT " .. table.concat(parts, " ") .. "\n")
  for _, l in ipairs(sample_lines) do io.write(l .. "\n") end
end
