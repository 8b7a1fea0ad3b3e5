// The connector registry: which connector types this deployment has, filled at boot, and which of
// them /connector-types shows.
import type { components } from "../../generated/types.ts";

export type ConnectorCategory = "database" | "rest" | "aggregator";
export type ConnectorRegistration = { type: string; category: ConnectorCategory };

export interface ConnectorRegistry {
  register(connector: ConnectorRegistration): void;
  list(): ConnectorRegistration[];
}

export function createConnectorRegistry(): ConnectorRegistry {
  const connectors = new Map<string, ConnectorRegistration>();
  return {
    register(connector) {
      if (connectors.has(connector.type)) {
        throw new Error(`connector type "${connector.type}" is already registered`);
      }
      connectors.set(connector.type, { ...connector });
    },
    list: () => [...connectors.values()].sort((a, b) => a.type.localeCompare(b.type)),
  };
}

/** The connectors the engine ships with. */
export function registerBuiltInConnectors(registry: ConnectorRegistry): ConnectorRegistry {
  registry.register({ type: "postgres", category: "database" });
  registry.register({ type: "rest-generic", category: "rest" });
  registry.register({ type: "pluggy", category: "aggregator" });
  registry.register({ type: "belvo", category: "aggregator" });
  return registry;
}

/**
 * The registered types the connection form's type-select offers, each with its category. The
 * aggregator vendors are left out: they are provisioned through the aggregator-connections surface.
 */
export function listConnectorTypes(
  registry: ConnectorRegistry,
): components["schemas"]["ConnectorTypeList"] {
  const types = registry.list().flatMap(({ type, category }) =>
    category === "aggregator" ? [] : [{ type, category }]
  );
  return { types };
}
