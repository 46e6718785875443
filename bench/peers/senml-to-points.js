// Node-RED function node of the peer flow (bench/peers/flows.json is built from this file by
// `python -m bench.peers.flow`): a SenML pack (RFC 8428) from `senml/<meter>` → one point for
// node-red-contrib-influxdb's "influxdb out" node ([fields, tags], fields.time in ms), the same
// point the hub stores: building_energy, tag device, fields power_w, energy_import_wh,
// voltage_v, frequency_hz. Base name, time and unit carry over as in the RFC; a record with an
// unknown quantity or an unexpected unit is skipped. No registry tags, no range checks: the
// hub does both, so this flow does less work per message than the hub.
const QUANTITIES = {
    power: { field: "power_w", units: { W: 1, kW: 1000 } },
    energy: { field: "energy_import_wh", units: { Wh: 1, kWh: 1000 } },
    voltage: { field: "voltage_v", units: { V: 1 } },
    frequency: { field: "frequency_hz", units: { Hz: 1 } },
};
const fields = {};
let baseName = "";
let baseTime = 0;
let baseUnit;
let timeS;
for (const record of msg.payload) {
    if (record.bn !== undefined) baseName = record.bn;
    if (record.bt !== undefined) baseTime = record.bt;
    if (record.bu !== undefined) baseUnit = record.bu;
    if (record.n === undefined) continue;
    const name = (baseName + record.n).split(":").pop();
    const quantity = QUANTITIES[name];
    const factor = quantity && quantity.units[record.u || baseUnit];
    const value = record.v !== undefined ? record.v : record.s;
    if (factor === undefined || typeof value !== "number") continue;
    fields[quantity.field] = value * factor;
    timeS = baseTime + (record.t || 0);
}
if (timeS === undefined) return null;
fields.time = Math.round(timeS * 1000);
msg.payload = [fields, { device: msg.topic.split("/").pop() }];
return msg;
