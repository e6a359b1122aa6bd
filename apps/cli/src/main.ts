// The entry: the one place that reads the environment.
import { createCli } from "./context";
import { buildProgram } from "./program";

const { EDGEFLEET_URL, EDGEFLEET_TOKEN, EDGEFLEET_CONFIG, XDG_CONFIG_HOME, HOME } = process.env;
const cli = createCli({ EDGEFLEET_URL, EDGEFLEET_TOKEN, EDGEFLEET_CONFIG, XDG_CONFIG_HOME, HOME });
await buildProgram(cli).parseAsync(process.argv);
