//! The Gateway API objects among the inputs, indexed for the cross-object checks.

use std::collections::{BTreeMap, BTreeSet};

use crate::frontend::Object;
use crate::kinds::Resource;
use crate::model::gateway::{Gateway, GatewayClass, ReferenceGrant};
use crate::model::meta::LabelSelector;

use super::routes::{DEFAULT_NAMESPACE, Route};

/// Label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Gateways by namespace, then name (several when the inputs repeat one).
pub type GatewaysByNamespace<'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<(&'a Object, &'a Gateway)>>>;

pub struct Inputs<'a> {
    pub gateway_classes: Vec<(&'a Object, &'a GatewayClass)>,
    pub gateways: GatewaysByNamespace<'a>,
    pub routes: Vec<(&'a Object, Route<'a>)>,
    /// ReferenceGrants by namespace.
    pub grants: BTreeMap<&'a str, Vec<&'a ReferenceGrant>>,
    /// Labels of the Namespace objects, by name.
    pub namespaces: BTreeMap<&'a str, &'a BTreeMap<String, String>>,
    /// `(namespace, name)` of the Service objects.
    pub services: BTreeSet<(&'a str, &'a str)>,
    /// Namespaces with at least one Service object.
    pub service_namespaces: BTreeSet<&'a str>,
}

fn namespace_of(object: &Object) -> &str {
    object.namespace().unwrap_or(DEFAULT_NAMESPACE)
}

impl<'a> Inputs<'a> {
    pub fn new(objects: &'a [Object]) -> Self {
        let mut inputs = Inputs {
            gateway_classes: Vec::new(),
            gateways: BTreeMap::new(),
            routes: Vec::new(),
            grants: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            services: BTreeSet::new(),
            service_namespaces: BTreeSet::new(),
        };
        for object in objects {
            match &object.resource {
                Resource::GatewayClass(class) => inputs.gateway_classes.push((object, class)),
                Resource::Gateway(gateway) => {
                    inputs.gateways.entry(namespace_of(object)).or_default().entry(object.name()).or_default().push((object, gateway));
                }
                Resource::HTTPRoute(route) => inputs.routes.push((object, Route::Http(route))),
                Resource::GRPCRoute(route) => inputs.routes.push((object, Route::Grpc(route))),
                Resource::TLSRoute(route) => inputs.routes.push((object, Route::Tls(route))),
                Resource::ReferenceGrant(grant) => inputs.grants.entry(namespace_of(object)).or_default().push(grant),
                Resource::Namespace(_) => {
                    inputs.namespaces.insert(object.name(), &object.resource.metadata().labels);
                }
                Resource::Service(_) => {
                    inputs.services.insert((namespace_of(object), object.name()));
                    inputs.service_namespaces.insert(namespace_of(object));
                }
                _ => {}
            }
        }
        inputs
    }

    /// Whether a namespace selector selects `namespace`: `Some(answer)` when the inputs say,
    /// `None` when they do not hold the namespace's labels.
    pub fn namespace_selected(&self, selector: &LabelSelector, namespace: &str) -> Option<bool> {
        let mut labels = match self.namespaces.get(namespace) {
            Some(labels) => (*labels).clone(),
            None => {
                let only_name_label = selector.match_labels.keys().all(|key| key == NAMESPACE_NAME_LABEL)
                    && selector.match_expressions.iter().all(|requirement| requirement.key == NAMESPACE_NAME_LABEL);
                if !only_name_label {
                    return None;
                }
                BTreeMap::new()
            }
        };
        labels.insert(NAMESPACE_NAME_LABEL.to_owned(), namespace.to_owned());
        Some(selector.matches(&labels))
    }
}
