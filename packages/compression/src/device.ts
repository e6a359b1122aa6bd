// The part of the compression engine a device runs for federated calibration: the same
// preparation and statistics passes as central calibration, and the MNIST split its local
// datasets are drawn from. Imports no catalogue, training or packing code.
export { loadMnistSplit, MNIST_PIXELS, type Split } from "./data/mnist";
export {
  type CalibrationBatch,
  collectHistograms,
  collectRanges,
  openExposed,
} from "./quantize/calibrate";
export type { RangeStats } from "./quantize/calibration-stats";
export { prepareForQuantization } from "./quantize/prepare";
export { staticCalibrationTargets } from "./quantize/static";
