export { HardwareFacts } from "./gen/edgefleet/v1/device";
export {
  EnrollmentServiceClient,
  type EnrollmentServiceServer,
  EnrollmentServiceService,
  EnrollRequest,
  EnrollResponse,
} from "./gen/edgefleet/v1/enrollment";
export * from "./messages";
export * from "./subjects";
