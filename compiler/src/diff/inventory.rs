//! Which inventory each side of a diff is evaluated against.
//!
//! A diff of a live cluster against a repository usually has the inventory on one side only:
//! `kubectl get ... -o yaml` holds pods, namespaces and nodes, the repository holds policies.
//! [`InventoryChoice::Auto`] lets a side without pods borrow the other side's inventory objects,
//! its own inventory objects (a Namespace manifest in the repository, say) coming first so that
//! they win. `Old` and `New` evaluate both sides against one side's inventory, to see only what
//! the policies change; `Own` keeps each side to its own objects.

use crate::frontend::Object;
use crate::kinds::{Category, KindInfo, Resource};

/// Which inventory each side is evaluated against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InventoryChoice {
    /// Each side its own; a side without pods borrows the other side's inventory.
    #[default]
    Auto,
    /// Each side only its own inventory objects.
    Own,
    /// Both sides the old side's inventory.
    Old,
    /// Both sides the new side's inventory.
    New,
}

/// Whether `object` describes the cluster (Namespace, Pod, Node, Service, EndpointSlice).
pub fn is_inventory(object: &Object) -> bool {
    KindInfo::find(object.kind()).is_some_and(|info| info.category == Category::Inventory)
}

fn has_pods(objects: &[Object]) -> bool {
    objects.iter().any(|object| matches!(object.resource, Resource::Pod(_)))
}

/// Where each side's inventory came from, for a note to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventorySource {
    Own,
    /// The side's own inventory objects (if any) with the other side's after them.
    Borrowed,
    /// Only the other side's inventory objects.
    Other,
}

/// The objects each side is lowered with: its policies with the inventory `choice` gives it.
pub fn choose_inventory(old: &[Object], new: &[Object], choice: InventoryChoice) -> ([Vec<Object>; 2], [InventorySource; 2]) {
    let sides = [old, new];
    let own = |side: usize| -> Vec<Object> { sides[side].to_vec() };
    let policies_only = |side: usize| -> Vec<Object> { sides[side].iter().filter(|object| !is_inventory(object)).cloned().collect() };
    let inventory_of = |side: usize| -> Vec<Object> { sides[side].iter().filter(|object| is_inventory(object)).cloned().collect() };
    let mut objects = [own(0), own(1)];
    let mut sources = [InventorySource::Own, InventorySource::Own];
    match choice {
        InventoryChoice::Own => {}
        InventoryChoice::Auto => {
            for (side, other) in [(0, 1), (1, 0)] {
                if !has_pods(sides[side]) && has_pods(sides[other]) {
                    objects[side].extend(inventory_of(other));
                    sources[side] = InventorySource::Borrowed;
                }
            }
        }
        InventoryChoice::Old | InventoryChoice::New => {
            let (from, to) = if choice == InventoryChoice::Old { (0, 1) } else { (1, 0) };
            objects[to] = policies_only(to);
            objects[to].extend(inventory_of(from));
            sources[to] = InventorySource::Other;
        }
    }
    (objects, sources)
}
