export * from "./dispatch";
export { HardwareFacts } from "./gen/edgefleet/v1/device";
export {
  EnrollmentServiceClient,
  type EnrollmentServiceServer,
  EnrollmentServiceService,
  EnrollRequest,
  EnrollResponse,
} from "./gen/edgefleet/v1/enrollment";
export {
  AssignVariantRequest,
  AssignVariantResponse,
  CreatePlanRequest,
  CreatePlanResponse,
  DesiredDeployment,
  DeviceDeployment,
  FleetServiceClient,
  type FleetServiceServer,
  FleetServiceService,
  GetDeviceDeploymentRequest,
  GetDeviceDeploymentResponse,
  GetDeviceProfileRequest,
  GetDeviceProfileResponse,
  PlanDecision,
  PlanPolicy,
  PlanSelector,
  ReportedDeployment,
  ReprofileDeviceRequest,
  ReprofileDeviceResponse,
  RuntimeOptions,
} from "./gen/edgefleet/v1/fleet";
export {
  GetModelRequest,
  GetModelResponse,
  InferRequest,
  InferResponse,
  InferResponse_Output,
  LocalInferenceServiceClient,
  type LocalInferenceServiceServer,
  LocalInferenceServiceService,
  ServingOptions,
} from "./gen/edgefleet/v1/inference";
export * from "./messages";
export * from "./subjects";
export * from "./telemetry";
