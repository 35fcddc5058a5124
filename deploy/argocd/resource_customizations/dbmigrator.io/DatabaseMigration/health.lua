-- Argo CD health of a DatabaseMigration (dbmigrator.io/v1alpha1). gopher-lua, i.e. Lua 5.1.
--   Healthy      the operator has observed the current generation and Ready=True
--   Progressing  a step runs (Reconciling=True), a transient error is being retried, the
--                generation is not observed yet, or the resource is being deleted
--   Degraded     only a terminal failure (Stalled=True): Argo CD fails the whole sync wave on
--                Degraded, so a retry must never read as Degraded
--   Suspended    spec.suspend is true or status.phase is Suspended, or the current
--                generation's plan waits for a human (status.phase AwaitingApproval): the
--                message names the plan's hash and the annotation that approves it
-- The message is status.message when the status speaks for the current generation.
local hs = {}
local status = obj.status
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

local function findCondition(conditionType)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local function isTrue(condition)
  return condition ~= nil and condition.status == "True"
end

-- A condition computed from the current generation (or one that does not say).
local function isCurrent(condition)
  if condition == nil then
    return false
  end
  if condition.observedGeneration == nil or generation == nil then
    return true
  end
  return condition.observedGeneration >= generation
end

local function messageOr(fallback)
  if status ~= nil and status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return fallback
end

local ready = findCondition("Ready")
local reconciling = findCondition("Reconciling")
local stalled = findCondition("Stalled")

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted (deleting a DatabaseMigration never touches the database)"
  return hs
end

local waiting = "Waiting for the operator to act on the current spec"
if generation ~= nil then
  waiting = "Waiting for the operator to act on generation " .. tostring(generation)
end

local notObserved = status == nil or status.observedGeneration == nil or
    (generation ~= nil and status.observedGeneration < generation)
-- status.message speaks for the current generation: observed, or a step of it runs.
local messageCurrent = not notObserved or isCurrent(reconciling) or isCurrent(ready)

local suspendRequested = obj.spec ~= nil and obj.spec.suspend == true
if suspendRequested or (status ~= nil and status.phase == "Suspended") then
  hs.status = "Suspended"
  local fallback = waiting
  if suspendRequested then
    fallback = "Suspended: spec.suspend is true"
  end
  if messageCurrent then
    hs.message = messageOr(fallback)
  else
    hs.message = fallback
  end
  return hs
end

if status ~= nil and status.phase == "AwaitingApproval" and not notObserved then
  hs.status = "Suspended"
  hs.message = messageOr("Awaiting approval (annotation dbmigrator.io/approve-plan)")
  return hs
end

if notObserved then
  hs.status = "Progressing"
  if messageCurrent then
    hs.message = messageOr(waiting)
  else
    hs.message = waiting
  end
  return hs
end

if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = messageOr(stalled.message or "Stalled: " .. tostring(stalled.reason))
  return hs
end

if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = messageOr(reconciling.message or tostring(reconciling.reason))
  return hs
end

if isTrue(ready) then
  hs.status = "Healthy"
  hs.message = messageOr(ready.message or "Ready")
  return hs
end

hs.status = "Progressing"
if ready ~= nil and ready.message ~= nil then
  hs.message = messageOr(ready.message)
else
  hs.message = messageOr(waiting)
end
return hs
