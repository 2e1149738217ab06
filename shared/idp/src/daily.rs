//! The daily run (rotate's one job): for every active organisation, one listing of its IdPs,
//! SP key rotation, then metadata refresh. A failure in one organisation or IdP is counted,
//! audited and logged, and the run goes on; only a failure to list the organisations fails the
//! run (EventBridge Scheduler retries it).

use samlgate_domain::ids::OrgId;
use samlgate_domain::org::Org;
use samlgate_domain::ports::{OrgDirectory, SsoConfigReader};
use samlgate_domain::{PortError, VaultError};

use crate::refresh::{Refresh, RefreshReport};
use crate::rotation::{Rotation, RotationReport};

/// What the run needs besides the two jobs: the organisation directory and the configuration
/// reads the jobs share.
pub struct Daily<'a> {
    pub orgs: &'a dyn OrgDirectory,
    pub config: &'a dyn SsoConfigReader,
    pub rotation: Rotation<'a>,
    pub refresh: Refresh<'a>,
}

impl Daily<'_> {
    pub async fn run(&self) -> Result<(RotationReport, RefreshReport), PortError> {
        let (mut rotation, mut refresh) = (RotationReport::default(), RefreshReport::default());
        for org in self.active_orgs().await? {
            // Rotation first: it needs only the table and KMS; the refresh needs the network.
            let idps = match self.config.list_idps(&org.org).await {
                Ok(idps) => idps,
                Err(e) => {
                    rotation.failures += 1;
                    tracing::error!(code = "rotate_unavailable", org = %org.org, error = %e, "IdPs could not be listed");
                    continue;
                }
            };
            let ids: Vec<_> = idps.iter().map(|i| i.idp.clone()).collect();
            self.rotation.org(&org, &ids, &mut rotation).await;
            self.refresh.org(&idps, &mut refresh).await;
        }
        Ok((rotation, refresh))
    }

    /// The organisations whose status is active (the daily jobs skip the others).
    async fn active_orgs(&self) -> Result<Vec<Org>, PortError> {
        let mut active = Vec::new();
        for id in self.orgs.list_orgs().await? {
            if let Some(org) = self.org(&id).await? {
                active.push(org);
            }
        }
        Ok(active)
    }

    /// The organisation if it is active; `None` for one gone or suspended since it was listed.
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, PortError> {
        match self.config.active_org(id).await {
            Ok(org) => Ok(Some(org)),
            Err(VaultError::OrgNotFound | VaultError::OrgInactive) => Ok(None),
            Err(VaultError::Port(e)) => Err(e),
            Err(other) => Err(PortError::new(
                samlgate_domain::PortErrorKind::Other,
                "active_org",
                other.code(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use samlgate_domain::org::OrgStatus;
    use samlgate_domain::PortErrorKind::Throttled;

    use super::*;
    use crate::testing::{caller, org_record, World};

    fn daily<'a>(world: &'a World, caller: &'a samlgate_domain::audit::Caller) -> Daily<'a> {
        Daily {
            orgs: &world.store,
            config: &world.store,
            rotation: world.rotation(caller),
            refresh: world.refresh(caller),
        }
    }

    #[tokio::test]
    async fn every_active_organisation_gets_both_jobs_and_inactive_ones_none() {
        let world = World::new().await;
        let world = World {
            store: world
                .store
                .with_org(org_record("gone", OrgStatus::Suspended)),
            ..world
        };
        let caller = caller();
        let (rotation, refresh) = daily(&world, &caller).run().await.unwrap();
        assert_eq!((rotation.orgs, rotation.idps), (1, 1));
        assert_eq!(refresh.idps.len(), 1, "acme's IdP has a metadata URL");
        assert_eq!(refresh.days_left.len(), 1);
    }

    #[tokio::test]
    async fn an_organisation_whose_idps_cannot_be_listed_is_counted_and_the_run_goes_on() {
        let world = World::new().await;
        world.store.faults.fail("list_idps", Throttled);
        let caller = caller();
        let (rotation, refresh) = daily(&world, &caller).run().await.unwrap();
        assert_eq!((rotation.failures, rotation.idps), (1, 0));
        assert!(refresh.idps.is_empty());
        world.store.faults.fail("list_orgs", Throttled);
        let e = daily(&world, &caller).run().await.unwrap_err();
        assert_eq!(e.code(), "aws_throttled", "only this fails the run");
    }
}
