import type { MeView } from "@edgefleet/protocol/rest";
import { createContext } from "preact";
import type { FleetStream } from "./stream";

export interface AppState {
  me: MeView | null;
  stream: FleetStream | null;
}

export const AppContext = createContext<AppState>({ me: null, stream: null });
