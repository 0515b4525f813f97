//! Parley's domain: the types every other crate speaks (bots, settings, keyword rules,
//! conversations, messages, sessions, keys) and the pure logic over them (validation,
//! text normalisation, the compiled keyword matcher). Nothing here does I/O or is async,
//! so all of it is unit-testable and usable from any layer.

pub mod ai_context;
pub mod answer;
pub mod bot;
pub mod button;
pub mod conversation;
pub mod feedback;
pub mod flow;
pub mod guard;
pub mod handoff;
pub mod knowledge;
pub mod matcher;
pub mod rule;
pub mod settings;
pub mod template;
pub mod text;
pub mod transfer;
pub mod validation;
pub mod workspace;

pub use ai_context::{AiContext, AiContextInput, AiContextSpec, AiContextType};
pub use answer::{
    check_answer, parse_date, parse_time, Answer, AnswerContext, AnswerRules, DateOrder, InputType,
    Invalid,
};
pub use bot::{Bot, BotDefinition};
pub use button::{Button, ButtonInput};
pub use conversation::{
    Channel, Contact, ContactInput, Conversation, ConversationStatus, FlowState, Message,
    MessageMeta, MessageRole, MessageSource, Session, SessionMode,
};
pub use feedback::{Feedback, FeedbackInput};
pub use flow::{Flow, FlowInput, FlowPatch, FlowSpec, FlowStep, StepType};
pub use guard::{GuardSettings, MessageGuard, SafetyEvent, SafetyKind};
pub use handoff::{Agent, AgentInput, Team, TeamInput};
pub use knowledge::{
    Dataset, DatasetInput, KnowledgeSource, Record, RecordInput, Retriever, SearchHit,
};
pub use matcher::{KeywordMatcher, MatcherError, RuleMatch};
pub use rule::{KeywordRule, KeywordRuleInput, KeywordRulePatch, MatchType, ResponseType};
pub use settings::{PageOrigin, Settings, SettingsPatch, WidgetSettings};
pub use transfer::{Transfer, TransferSource, TransferStatus};
pub use validation::{FieldError, ValidationError};
pub use workspace::{ApiKey, Role, Workspace};

/// Identifiers are UUIDs; v7 (time-ordered) when Parley creates them, so ids sort by age.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
