//! `-machine TYPE,help`: the capability properties with their defaults.
//!
//! QEMU 7.2 prints `  name=<type>` padded to 24 columns, then
//! ` - description`, sorted, and no defaults for the caps. This listing adds
//! ` (default: <json>)`, the form newer QEMUs use for properties with a
//! default. The machine adds its own properties and prints the lot with
//! [`format_property_help`].

use crate::cap::CapId;
use crate::cpu::CpuInfo;
use crate::icmode::IcModeState;
use crate::machines::MachineType;
use crate::resolve::{default_caps_with_cpu, CapContext};
use crate::value::qom_json;

/// Description of the `ic-mode` property.
pub const IC_MODE_DESCRIPTION: &str = "Specifies the interrupt controller mode (xics, xive, dual)";

/// One property in a help listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyHelp {
    /// Property name (`cap-htm`).
    pub name: String,
    /// QOM type name (`bool`, `string`, `int`).
    pub type_name: String,
    /// Description.
    pub description: Option<String>,
    /// Default, as JSON (`true`, `"workaround"`, `65536`).
    pub default_json: Option<String>,
}

impl PropertyHelp {
    /// The help line, QEMU's `object_property_help` format.
    pub fn line(&self) -> String {
        let mut s = format!("  {}=<{}>", self.name, self.type_name);
        if self.description.is_some() || self.default_json.is_some() {
            while s.len() < 24 {
                s.push(' ');
            }
            s.push_str(" - ");
        }
        if let Some(d) = &self.description {
            s.push_str(d);
        }
        if let Some(d) = &self.default_json {
            s.push_str(" (default: ");
            s.push_str(d);
            s.push(')');
        }
        s
    }
}

impl CapContext {
    /// The machine's default CPU under TCG, one thread per core: the context
    /// whose defaults `-machine TYPE,help` shows.
    pub fn machine_default(machine: &MachineType) -> Self {
        CapContext::tcg(CpuInfo::new(machine.default_cpu, machine.default_cpu_isa))
    }
}

/// Every capability property of `machine`, plus `ic-mode`, with its
/// default for `ctx` (CPU-adjusted).
pub fn cap_properties(machine: &MachineType, ctx: &CapContext) -> Vec<PropertyHelp> {
    let defaults = default_caps_with_cpu(machine, &ctx.cpu, &ctx.accel);
    let mut props: Vec<PropertyHelp> = CapId::ALL
        .into_iter()
        .map(|cap| PropertyHelp {
            name: cap.property(),
            type_name: cap.entry().kind.type_name().into(),
            description: Some(cap.entry().description.into()),
            default_json: qom_json(cap, defaults[cap]),
        })
        .collect();
    let ic_mode = IcModeState::of(!machine.ic_mode_settable(), &defaults)
        .map(|s| format!("\"{}\"", s.as_str()));
    props.push(PropertyHelp {
        name: "ic-mode".into(),
        type_name: "string".into(),
        description: Some(IC_MODE_DESCRIPTION.into()),
        default_json: ic_mode,
    });
    props
}

/// The whole listing: `<type>-machine options:` and the sorted lines.
pub fn format_property_help(
    machine: &MachineType,
    props: impl IntoIterator<Item = PropertyHelp>,
) -> String {
    let mut lines: Vec<String> = props.into_iter().map(|p| p.line()).collect();
    lines.sort();
    let mut out = format!("{}-machine options:\n", machine.name);
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}
