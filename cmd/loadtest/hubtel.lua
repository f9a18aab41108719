-- wrk script: the sessions of ussd.lua (four screens: dial, 1, 2, 3) in
-- Hubtel's dialect (docs/aggregators.md): JSON, one input per request,
-- numbered by Sequence. Same lanes, phones and pacing as ussd.lua, so that
-- the two dialects differ only in their wire format.
local lanes = 512
local inputs = {"", "1", "2", "3"}
local counter = 0
local laneSession = {}
local laneStep = {}
local thread_id = 0
local id_seq = 0
-- Session ids differ from one run to the next: a session id of an earlier
-- run, ended less than a minute ago, would be answered as a retry of its
-- last step (cheaply), not served.
local run_id = os.time()

function setup(thread)
  id_seq = id_seq + 1
  thread:set("thread_id", id_seq)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for i = 0, lanes - 1 do
    laneSession[i] = 0
    laneStep[i] = 0
  end
end

function request()
  local lane = counter % lanes
  counter = counter + 1
  local step = laneStep[lane]
  if step == 0 then
    laneSession[lane] = laneSession[lane] + 1
  end
  laneStep[lane] = (step + 1) % 4
  local phone = string.format("2337%02d%03d%03d", thread_id, lane, laneSession[lane] % 1000)
  local sid = string.format("wrk-h-%d-%d-%d-%d", run_id, thread_id, lane, laneSession[lane])
  local typ, msg = "Response", inputs[step + 1]
  if step == 0 then
    typ, msg = "Initiation", "*777#"
  end
  local body = string.format(
    '{"Type":"%s","Mobile":"%s","SessionId":"%s","ServiceCode":"777","Message":"%s","Operator":"mtn","Sequence":%d,"Platform":"USSD"}',
    typ, phone, sid, msg, step + 1)
  return wrk.format(nil, "/ussd/hubtel", nil, body)
end
