// Generated gRPC code (ts-proto over grpc-js): its own entry, so that what only needs the JSON
// wire types (the agent at rest, say) does not load grpc-js and every generated message.
export { HardwareFacts } from "./gen/edgefleet/v1/device";
export {
  EnrollmentServiceClient,
  type EnrollmentServiceServer,
  EnrollmentServiceService,
  EnrollRequest,
  EnrollResponse,
} from "./gen/edgefleet/v1/enrollment";
export {
  AssignOptions,
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
