//! Who reaches which conversation: the one rule every route applies, written once.
//!
//! - An **admin** key reaches every conversation of its workspace.
//! - An **agent** reaches a conversation while its open transfer waits in the general queue
//!   or one of the agent's teams, and any conversation whose transfer (open or resumed) is
//!   assigned to it — so an agent can reread what it handled until someone else is
//!   assigned. A resumed transfer that was never the agent's does not keep the
//!   conversation in reach.
//! - A key with the agent role but no agent profile (made with `keys create --role agent`)
//!   has no teams and cannot be assigned, so it reaches nothing.
//! - Conversation tokens are not actors: the server lets a token open only its own
//!   conversation.
//!
//! The rule has two forms, kept here side by side: [`Actor::reaches`] decides for one
//! transfer (the agent event stream filters with it), and [`Actor::reach`] is the same rule
//! as data, which the store turns into SQL (`AgentReach`) for lists and access checks.
//! Another workspace's conversation is 404; one of the workspace out of an agent's reach is
//! 403.

use parley_core::{Agent, Transfer, TransferStatus};
use parley_store::{AgentReach, PageRequest, TransferFilter};
use uuid::Uuid;

use crate::error::{EngineError, Result};
use crate::Engine;

/// Who is acting on conversations and queues (conversation tokens are not actors).
#[derive(Debug, Clone)]
pub enum Actor {
    Admin,
    /// An agent key; `None` when the key has no agent profile (made with `keys create`).
    Agent(Option<Agent>),
}

impl Actor {
    /// The agent's profile (`None` for an admin); a profile-less agent key is refused.
    pub(crate) fn agent(&self) -> Result<Option<&Agent>> {
        match self {
            Actor::Admin => Ok(None),
            Actor::Agent(Some(a)) => Ok(Some(a)),
            Actor::Agent(None) => Err(no_profile()),
        }
    }

    /// The rule as data: `None` for an admin (everything), the agent's reach otherwise.
    pub fn reach(&self) -> Result<Option<AgentReach>> {
        Ok(self.agent()?.map(|a| AgentReach {
            teams: a.team_ids.clone(),
            agent_id: a.id,
        }))
    }

    /// Does this transfer put its conversation within the actor's reach?
    pub fn reaches(&self, t: &Transfer) -> bool {
        match self {
            Actor::Admin => true,
            Actor::Agent(None) => false,
            Actor::Agent(Some(a)) => {
                let waiting_in_my_queues = t.status == TransferStatus::Active
                    && t.team_id.is_none_or(|team| a.team_ids.contains(&team));
                waiting_in_my_queues || t.agent_id == Some(a.id)
            }
        }
    }
}

fn no_profile() -> EngineError {
    EngineError::Forbidden(
        "this agent key has no agent profile; create agents with POST /api/v1/agents".into(),
    )
}

impl Engine {
    /// May `actor` act on this conversation? Admins always (404 comes from the operation
    /// itself); agents as the module doc says: 404 for a conversation that does not exist
    /// in the workspace, 403 for one out of reach.
    pub async fn check_access(&self, ws: Uuid, actor: &Actor, conversation_id: Uuid) -> Result<()> {
        let reach = match actor {
            Actor::Admin => return Ok(()),
            Actor::Agent(None) => None,
            Actor::Agent(Some(_)) => actor.reach()?,
        };
        if let Some(reach) = reach {
            let filter = TransferFilter {
                conversation_id: Some(conversation_id),
                reach: Some(reach),
                ..Default::default()
            };
            let page = PageRequest {
                limit: Some(1),
                cursor: None,
            };
            let list = self.store.list_transfers(ws, &filter, &page).await?;
            if !list.transfers.is_empty() {
                return Ok(());
            }
        }
        // 404 for a conversation that does not exist here, 403 for one out of reach.
        self.get_conversation(ws, conversation_id).await?;
        Err(match actor {
            Actor::Agent(None) => no_profile(),
            _ => EngineError::Forbidden(
                "this conversation is not in your queues nor assigned to you".into(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use parley_core::TransferSource;

    fn agent(teams: &[Uuid]) -> Agent {
        Agent {
            id: Uuid::now_v7(),
            name: "Ann".into(),
            email: None,
            team_ids: teams.to_vec(),
            key_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn transfer(team: Option<Uuid>, agent: Option<Uuid>, status: TransferStatus) -> Transfer {
        Transfer {
            id: Uuid::now_v7(),
            conversation_id: Uuid::now_v7(),
            contact_id: Uuid::now_v7(),
            bot_id: Uuid::now_v7(),
            status,
            source: TransferSource::Api,
            team_id: team,
            agent_id: agent,
            notes: String::new(),
            transferred_at: Utc::now(),
            assigned_at: None,
            resumed_at: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn agents_reach_their_queues_and_their_own_transfers_only() {
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        let ann = agent(&[mine]);
        let me = Actor::Agent(Some(ann.clone()));
        let bob = Uuid::now_v7();
        use TransferStatus::{Active, Resumed};
        let cases = [
            (transfer(None, None, Active), true),
            (transfer(Some(mine), None, Active), true),
            (transfer(Some(mine), Some(bob), Active), true),
            (transfer(Some(other), None, Active), false),
            (transfer(Some(other), Some(ann.id), Active), true),
            (transfer(None, None, Resumed), false),
            (transfer(Some(mine), Some(bob), Resumed), false),
            (transfer(Some(other), Some(ann.id), Resumed), true),
        ];
        for (t, expected) in &cases {
            assert_eq!(me.reaches(t), *expected, "{t:?}");
            assert!(Actor::Admin.reaches(t));
            assert!(!Actor::Agent(None).reaches(t));
        }
        assert_eq!(
            me.reach().unwrap(),
            Some(AgentReach {
                teams: vec![mine],
                agent_id: ann.id
            })
        );
        assert!(Actor::Admin.reach().unwrap().is_none());
        assert!(Actor::Agent(None).reach().is_err());
    }
}
