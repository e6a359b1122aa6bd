// @edgefleet/fleet-sim: many simulated devices in one process, each with its own identity.
export { type ClassMix, dealClasses, InvalidClassMixError, parseClassMix } from "./class-mix";
export { type ControlApi, startControlApi } from "./control-api";
export {
  DEFAULT_CLASS_MIX,
  type DeviceView,
  type FleetOptions,
  type FleetStats,
  type LoadTarget,
  type RunningFleet,
  startFleet,
} from "./fleet";
export { type FleetFile, FleetFileError, loadFleetFile, type SimDevice } from "./fleet-file";
export {
  DEFAULT_VARIANTS,
  InvalidSimulationModelError,
  SimulationModel,
  type SimulationModelConfig,
  simulationModelSchema,
  type VariantModel,
} from "./model";
export { DEFAULT_HOST_FIGURES } from "./profile";
export {
  AGENT_VERSION,
  type BulkRegistration,
  type EnrollRegistration,
  type Registration,
  RegistrationError,
} from "./register";
