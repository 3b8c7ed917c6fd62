//! Selector resolution over many label sets, without trying every selector on every set.
//!
//! [`LabelIndex`] indexes label sets by label (key and value, whatever the source) and by key.
//! A selector is tried only on the sets that carry the label its most selective `In` (or
//! `Exists`) requirement needs; a selector without such a requirement is tried on every set. The
//! answer is exactly what [`Selector::matches`] gives on every set, only faster: the full
//! selector is still evaluated on each candidate.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::Label;

use crate::identity::{Operator, Selector};

/// Label sets indexed by their labels.
pub(crate) struct LabelIndex<'a> {
    sets: Vec<&'a BTreeSet<Label>>,
    /// By key, then value: the sets with such a label of any source, ascending.
    by_label: BTreeMap<&'a str, BTreeMap<&'a str, Vec<u32>>>,
    /// By key: the sets with a label of that key, ascending.
    by_key: BTreeMap<&'a str, Vec<u32>>,
}

fn push_once(list: &mut Vec<u32>, index: u32) {
    if list.last() != Some(&index) {
        list.push(index);
    }
}

impl<'a> LabelIndex<'a> {
    pub fn new(sets: impl IntoIterator<Item = &'a BTreeSet<Label>>) -> Self {
        let sets: Vec<&'a BTreeSet<Label>> = sets.into_iter().collect();
        let mut by_label: BTreeMap<&'a str, BTreeMap<&'a str, Vec<u32>>> = BTreeMap::new();
        let mut by_key: BTreeMap<&'a str, Vec<u32>> = BTreeMap::new();
        for (index, set) in sets.iter().enumerate() {
            let index = index as u32;
            for label in set.iter() {
                push_once(by_label.entry(label.key.as_str()).or_default().entry(label.value.as_str()).or_default(), index);
                push_once(by_key.entry(label.key.as_str()).or_default(), index);
            }
        }
        LabelIndex { sets, by_label, by_key }
    }

    /// The candidates of one requirement (a superset of the sets it holds for), or `None` when
    /// the requirement does not narrow the sets down (`NotIn`, `DoesNotExist`).
    fn candidates(&self, key: &str, operator: &Operator) -> Option<(usize, Vec<&Vec<u32>>)> {
        match operator {
            Operator::In(values) => {
                let by_value = self.by_label.get(key);
                let lists: Vec<&Vec<u32>> = values.iter().filter_map(|value| by_value.and_then(|by_value| by_value.get(value.as_str()))).collect();
                Some((lists.iter().map(|list| list.len()).sum(), lists))
            }
            Operator::Exists => {
                let lists: Vec<&Vec<u32>> = self.by_key.get(key).into_iter().collect();
                Some((lists.iter().map(|list| list.len()).sum(), lists))
            }
            Operator::NotIn(_) | Operator::DoesNotExist => None,
        }
    }

    /// The indices of the sets `selector` selects, ascending.
    pub fn select(&self, selector: &Selector) -> Vec<u32> {
        let narrowest =
            selector.requirements.iter().filter_map(|requirement| self.candidates(&requirement.key, &requirement.operator)).min_by_key(|(count, _)| *count);
        match narrowest {
            Some((_, lists)) => {
                let mut candidates: Vec<u32> = if lists.len() == 1 { lists[0].clone() } else { lists.into_iter().flatten().copied().collect() };
                if candidates.len() > 1 && !candidates.is_sorted() {
                    candidates.sort_unstable();
                    candidates.dedup();
                }
                candidates.retain(|index| selector.matches(self.sets[*index as usize]));
                candidates
            }
            None => (0..self.sets.len() as u32).filter(|index| selector.matches(self.sets[*index as usize])).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Requirement;

    fn set(labels: &[(&str, &str, &str)]) -> BTreeSet<Label> {
        labels.iter().map(|(source, key, value)| Label::new(*source, *key, *value)).collect()
    }

    #[test]
    fn the_index_selects_what_every_selector_selects_by_itself() {
        let sets = [
            set(&[("k8s", "app", "web"), ("k8s", "io.kubernetes.pod.namespace", "prod")]),
            set(&[("k8s", "app", "db"), ("k8s", "io.kubernetes.pod.namespace", "prod"), ("k8s", "tier", "data")]),
            set(&[("k8s", "app", "web"), ("k8s", "io.kubernetes.pod.namespace", "dev")]),
            set(&[("reserved", "host", "")]),
            set(&[("container", "app", "web")]),
        ];
        let index = LabelIndex::new(sets.iter());
        let requirement =
            |source: Option<&str>, key: &str, operator: Operator| Requirement { source: source.map(str::to_owned), key: key.to_owned(), operator };
        let values = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<BTreeSet<String>>();
        let selectors = [
            Selector::default(),
            Selector { requirements: vec![requirement(Some("k8s"), "app", Operator::In(values(&["web"])))] },
            Selector { requirements: vec![requirement(None, "app", Operator::In(values(&["web", "db"])))] },
            Selector { requirements: vec![requirement(None, "app", Operator::In(values(&[])))] },
            Selector { requirements: vec![requirement(None, "tier", Operator::Exists), requirement(None, "app", Operator::NotIn(values(&["web"])))] },
            Selector { requirements: vec![requirement(None, "tier", Operator::DoesNotExist)] },
            Selector { requirements: vec![requirement(Some("reserved"), "host", Operator::Exists)] },
            Selector {
                requirements: vec![
                    requirement(Some("k8s"), "io.kubernetes.pod.namespace", Operator::In(values(&["prod"]))),
                    requirement(None, "app", Operator::In(values(&["web"]))),
                ],
            },
        ];
        for selector in &selectors {
            let expected: Vec<u32> = (0..sets.len() as u32).filter(|index| selector.matches(&sets[*index as usize])).collect();
            assert_eq!(index.select(selector), expected, "{selector:?}");
        }
    }

    #[test]
    fn generated_selectors_select_the_same_through_the_index() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound) as usize
        };
        const SOURCES: [&str; 3] = ["k8s", "reserved", "cidr"];
        const KEYS: [&str; 4] = ["app", "tier", "io.kubernetes.pod.namespace", "world"];
        const VALUES: [&str; 4] = ["", "a", "b", "c"];
        let sets: Vec<BTreeSet<Label>> =
            (0..60).map(|_| (0..next(5)).map(|_| Label::new(SOURCES[next(3)], KEYS[next(4)], VALUES[next(4)])).collect()).collect();
        let index = LabelIndex::new(sets.iter());
        for _ in 0..2000 {
            let requirements = (0..next(4))
                .map(|_| {
                    let values: BTreeSet<String> = (0..next(3)).map(|_| VALUES[next(4)].to_owned()).collect();
                    let operator = match next(4) {
                        0 => Operator::In(values),
                        1 => Operator::NotIn(values),
                        2 => Operator::Exists,
                        _ => Operator::DoesNotExist,
                    };
                    let source = if next(3) == 0 { None } else { Some(SOURCES[next(3)].to_owned()) };
                    Requirement { source, key: KEYS[next(4)].to_owned(), operator }
                })
                .collect();
            let selector = Selector { requirements };
            let expected: Vec<u32> = (0..sets.len() as u32).filter(|position| selector.matches(&sets[*position as usize])).collect();
            assert_eq!(index.select(&selector), expected, "{selector:?}");
        }
    }
}
