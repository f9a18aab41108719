-- wrk script: Africa's Talking-style USSD sessions of four screens each
-- (dial, 1, 1*2, 1*2*3), many sessions interleaved so that the steps of one
-- session never overlap: request k belongs to lane k % lanes, and a lane
-- sends its next step only `lanes` requests later, when the previous one has
-- long been answered (lanes is far above the connections per thread).
local lanes = 512
local texts = {"", "1", "1*2", "1*2*3"}
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
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
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
  local phone = string.format("2547%02d%03d%03d", thread_id, lane, laneSession[lane] % 1000)
  local sid = string.format("wrk-%d-%d-%d-%d", run_id, thread_id, lane, laneSession[lane])
  local body = "sessionId=" .. sid .. "&serviceCode=%2A777%23&phoneNumber=%2B" .. phone ..
    "&networkCode=63902&text=" .. texts[step + 1]:gsub("%*", "%%2A")
  return wrk.format(nil, "/ussd/africastalking", nil, body)
end
