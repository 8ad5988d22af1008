// The pure core of the case runtime: commands, events, decide and apply.
//
//   decide(context, case, command) -> events, or a Rejection saying why not
//   apply(case, event)             -> the case after the event (the only code that changes a case)
//
// Neither does I/O nor reads a clock: `context.now` is the time, `context.calendar` the
// bundle's working-day calendar, so every rule, deadline and holiday is testable with a
// virtual clock. Recovery replays stored events through the very same apply().
//
// Time: instants are Timestamps (milliseconds since 1970-01-01 00:00 local time, see
// store.hpp); working time is counted in minutes on the calendar (calendar.hpp).
//
// Thread safety: decide and apply are pure functions; a Case is a plain value (copy it or
// guard it). The Workflow and WorkCalendar they read are immutable and shareable.
#pragma once

#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/store.hpp>
#include <onevisit/engine/workflow.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace onevisit::engine {

// ---------------------------------------------------------------------------------------
// Case state

enum class MaterialStatus : std::uint8_t {
  missing,    ///< not supplied yet
  submitted,  ///< supplied (uploaded, fetched from an e-license, or produced), not yet checked
  verified,   ///< checked by a clerk (e-licenses and produced documents are verified at once)
  rejected,   ///< checked and refused; must be supplied again
  tolerated,  ///< missing, but accepted as pending under tolerant intake (容缺)
};

struct MaterialState {
  MaterialStatus status = MaterialStatus::missing;
  std::string content_hash;  ///< SHA-256 (hex) of the content, stored once by the store
  std::string file_name;
  std::string note;          ///< rejection reason, or where it came from
};

enum class ItemPhase : std::uint8_t {
  waiting,         ///< some item it comes after is not done yet
  not_applicable,  ///< its `when` is false for this case
  active,          ///< running its lifecycle
  done,            ///< reached a final state
  cancelled,       ///< an item it comes after failed, so it cannot run
};

enum class Light : std::uint8_t { none, yellow, red };

/// One run of a special procedure (特别程序) of an item: the time it took is kept as instants
/// (apply has no calendar); views count its working days on the bundle's calendar.
struct SpecialProcedureRun {
  std::uint32_t procedure = 0;  ///< index into ItemModel::specials
  Timestamp started_at = 0;
  Timestamp ended_at = 0;       ///< 0 while it runs
  std::string started_by, ended_by;
  std::string reason;           ///< why it was started (for the history and the notice)
  std::string result;           ///< what it found, given when it ended
  Light light = Light::none;    ///< yellow near its `max`, red past it
  friend bool operator==(const SpecialProcedureRun&, const SpecialProcedureRun&) = default;
};

/// A stay in a state that pauses the clock, with why (`pauses_clock as …`): kept as instants
/// (apply has no calendar); the report counts each kind's working days apart (docs/figures.md).
struct ClockStopStay {
  dsl::ClockStop kind = dsl::ClockStop::correction;
  Timestamp from = 0;
  Timestamp to = 0;  ///< 0 while the item is in the state
  friend bool operator==(const ClockStopStay&, const ClockStopStay&) = default;
};

/// One department's part of a joint item (联办/会签). Persisted by number: never reorder.
enum class PartDecision : std::uint8_t { pending, approved, refused };

struct JointPart {
  PartDecision decision = PartDecision::pending;
  Timestamp at = 0;  ///< when it was decided
  std::string by;    ///< who decided it
  std::string note;  ///< the department's opinion (required when refusing)
  friend bool operator==(const JointPart&, const JointPart&) = default;
};

struct ItemState {
  ItemPhase phase = ItemPhase::waiting;
  StateIndex state = 0;            ///< lifecycle state (when active or done)
  Timestamp started_at = 0;        ///< when the item became active
  /// When its time limit started counting (the lifecycle's `starts_clock` transition, 受理;
  /// or activation for a lifecycle without one); 0: not started, no deadline yet.
  Timestamp clock_started_at = 0;
  Timestamp state_entered_at = 0;  ///< for timed transitions
  Timestamp paused_since = 0;      ///< 0 while the clock runs
  /// Closed intervals in which the clock stood still. Kept as instants (apply has no
  /// calendar); the working minutes in them extend the deadline.
  std::vector<std::pair<Timestamp, Timestamp>> pauses;
  bool paused_by_clerk = false;    ///< an explicit PauseClock (besides pauses_clock states)
  /// Entries into a state that pauses the clock as a correction (补正), not the other kinds.
  int corrections = 0;
  std::vector<ClockStopStay> stays;  ///< every stay in a `pauses_clock` state, in order
  /// A joint item's parts, one per ItemModel::joint department (same order); empty otherwise.
  std::vector<JointPart> parts;
  Light light = Light::none;
  Timestamp finished_at = 0;
  std::vector<SpecialProcedureRun> specials;  ///< every special procedure run, in order
  /// The run in progress (index into `specials`); at most one at a time (docs/runtime.md).
  std::optional<std::size_t> running_special;
  /// 督办: when a supervisor last urged the department on this item (0: not urged since it
  /// last moved on), who, and their note. Cleared when the item changes state.
  Timestamp urged_at = 0;
  std::string urged_by;
  std::string urge_note;
  /// Equal items have the same row, deadline and timers: what a commit need not write again.
  friend bool operator==(const ItemState&, const ItemState&) = default;
};

enum class CaseStatus : std::uint8_t { running, completed, withdrawn, delivered, rated };

std::string_view to_string(CaseStatus status);
std::string_view to_string(ItemPhase phase);
std::string_view to_string(MaterialStatus status);

/// What people read for a status, phase or role (Chinese): "已办结", "办理中", "已核验",
/// "综窗人员" ... An unknown role reads as itself.
std::string_view title_of(CaseStatus status);
std::string_view title_of(ItemPhase phase);
std::string_view title_of(MaterialStatus status);
std::string_view role_title(std::string_view role);
/// The built-in title of a lifecycle event ("accept" 受理, "approve" 审批通过, "request_correction"
/// 要求补正 ...; dsl::builtin_event_title), else its name. Where the item's lifecycle is at hand,
/// LifecycleModel::event_title answers the title the workflow gives (`on approve "准予许可"`).
std::string_view event_title(std::string_view event);

/// One application running through one bundle version.
struct Case {
  std::string id;
  std::string bundle_id;
  int bundle_version = 0;
  std::uint64_t version = 0;  ///< number of events applied
  CaseStatus status = CaseStatus::running;
  Timestamp started_at = 0;
  Timestamp updated_at = 0;
  std::string applicant_masked;         ///< for lists and logs
  std::string channel = "window";       ///< how it came in (kChannels): window, online, mobile, kiosk
  std::vector<dsl::Value> slots;        ///< form values, one per field slot of the workflow scope
  std::vector<MaterialState> materials; ///< by MaterialIndex
  std::vector<ItemState> items;         ///< by ItemIndex
  std::optional<int> rating;
  std::string rating_comment;
  std::string delivery_channel;
  /// How the applicant chose to receive the results (ChooseDelivery); empty method: not chosen.
  struct DeliveryChoice {
    std::string method;     ///< window | mail
    std::string recipient;  ///< mail only, as the other three
    std::string mobile;
    std::string address;
  };
  DeliveryChoice delivery_choice;
  std::optional<Timestamp> rectification_due;
  std::string rectification_answer;         ///< what the rectification of a bad rating found and did
  Timestamp rectification_answered_at = 0;  ///< 0: not answered yet
  Timestamp personal_data_erased_at = 0;  ///< 0: not erased
  /// Which deployed version of its bundle's calendar the case counts working days on
  /// (Engine::deploy stores each new version; docs/runtime.md, New calendar versions). 0:
  /// the calendar compiled with its bundle version (cases from before calendars had versions).
  int calendar_version = 0;
};

// ---------------------------------------------------------------------------------------
// Commands (imperative) and events (past tense)

/// The channels a case comes in by (办理渠道): at a window (综窗), online (the web portal), on
/// the mobile app, or at a self-service kiosk (7×24 自助终端). Persisted by name.
inline constexpr std::string_view kChannels[] = {"window", "online", "mobile", "kiosk"};

struct StartCase {
  std::map<std::string, dsl::Value> form;  ///< by field name; situation answers included
  std::string applicant;                   ///< e.g. an ID number; stored masked in summaries
  std::string channel = "window";          ///< one of kChannels
  /// The calendar version the case will count on: set by the Engine (the latest deployed
  /// version of the bundle's calendar), not by callers.
  int calendar_version = 0;
};
struct AttachMaterial {
  std::string material;
  std::string content_hash;  ///< SHA-256 hex of the content (the Engine computes it)
  std::string file_name;
  bool from_elicense = false;
};
struct VerifyMaterial {
  std::string material;
  bool accept = true;
  std::string reason;  ///< required when refusing
};
struct FireEvent {
  std::string item;
  std::string event;
  std::map<std::string, std::string> fields;  ///< e.g. reason
  /// A window clerk records, for the applicant standing at the window, an event the lifecycle
  /// gives the applicant (已补正 after the corrected materials were taken in): allowed to the
  /// role `clerk` only, for transitions `by applicant`, and recorded as done for the applicant.
  bool for_applicant = false;
};
struct TolerantIntake {
  std::string item;
  std::vector<std::string> pending;  ///< secondary materials accepted as pending
  std::string event = "accept";      ///< the lifecycle event that accepts the item
  std::map<std::string, std::string> fields;
};
struct PauseClock {
  std::string item;  ///< empty: every active item
  std::string reason;
};
struct ResumeClock {
  std::string item;
};
/// Starts one of the special procedures (特别程序) the item declares (`special name … max D`).
struct StartSpecialProcedure {
  std::string item;
  std::string procedure;  ///< the `special` name, e.g. site_inspection
  std::string reason;     ///< required: why (told to the applicant in writing, 行政许可法第四十五条)
};
/// Ends the item's running special procedure with what it found.
struct EndSpecialProcedure {
  std::string item;
  std::string procedure;  ///< must name the running one (a stale page ends nothing else)
  std::string result;     ///< required
};
struct Withdraw {
  std::string reason;
};
struct Deliver {
  std::string channel;  ///< window, mail, electronic
};
/// The applicant (or a window clerk for them) chooses how the results of a completed case
/// reach them: pick-up at the window, or by post to an address (checked: a recipient, an
/// 11-digit mobile number, an address). Chosen once; the post office's order goes to the
/// outbox (system `post`, operation `deliver`) with the choice.
struct ChooseDelivery {
  std::string method;  ///< window | mail
  std::string recipient;
  std::string mobile;
  std::string address;
};
struct Rate {
  int level = 5;  ///< 1 (very bad) .. 5 (very good)
  std::string comment;
};
/// 差评整改: a supervisor (or a reviewer) answers the rectification a bad rating opened, once;
/// the answer is the applicant's to read on the case, and goes to them by text message.
struct AnswerRectification {
  std::string answer;  ///< required: what was found and what was done
};
/// 督办: a supervisor presses the department handling an item that is overdue or close to
/// it (a yellow or red light), with a note; the department is notified.
struct UrgeItem {
  std::string item;
  std::string note;  ///< required
};
/// 会签: the reviewer of one of a joint item's departments approves or refuses that
/// department's part. When the parts decide the item by its rule (ItemModel::joint_rule), the
/// lifecycle's `approve` or `reject` follows in the same command (docs/runtime.md, Joint handling).
struct DecidePart {
  std::string item;
  std::string department;  ///< the part's department id; a reviewer's must be their own
  bool approve = true;
  std::string note;        ///< the department's opinion; required when refusing
};
/// Sent by the scheduler when a timer is due (warnings, overdue, timed transitions).
struct TimerFired {
  std::string timer_id;
};
/// Sent by a calendar deploy to each running case on the calendar: from now on the case counts
/// working days on `calendar` (version `version` of its bundle's calendar). Its deadlines are
/// recounted and the event records each that moved (docs/runtime.md, New calendar versions).
struct AdoptCalendar {
  int version = 0;
  std::shared_ptr<const WorkCalendar> calendar;  ///< the new version (decide compares it with the case's)
  std::string title;                             ///< the calendar's title, for the history
};
/// Sent by the retention run: replaces a closed case's personal values once its bundle's
/// retention has passed (docs/runtime.md, Retention).
struct ErasePersonalData {};

using CommandBody = std::variant<StartCase, AttachMaterial, VerifyMaterial, FireEvent, TolerantIntake, PauseClock,
                                 ResumeClock, Withdraw, Deliver, Rate, TimerFired, ErasePersonalData,
                                 StartSpecialProcedure, EndSpecialProcedure, UrgeItem, AdoptCalendar, ChooseDelivery,
                                 AnswerRectification, DecidePart>;

struct Command {
  std::string command_id;  ///< idempotency key; the same id is applied once
  std::string case_id;
  std::string actor;       ///< who (a user name, "system", "applicant")
  std::string role;        ///< applicant clerk reviewer supervisor system ...
  CommandBody body;
  /// The actor's department, for roles bound to one (a reviewer): clock control (pause,
  /// resume, special procedures) is theirs only on items of that department.
  std::string department;
};

struct CaseStarted {
  std::string bundle_id;
  int bundle_version = 0;
  std::vector<dsl::Value> slots;
  std::string applicant_masked;
  std::string channel = "window";  ///< events from before channels were recorded read as window
  int calendar_version = 0;        ///< Case::calendar_version; absent (0) in older events
};
struct MaterialAttached {
  MaterialIndex material = 0;
  std::string content_hash;
  std::string file_name;
  bool from_elicense = false;
};
struct MaterialVerified {
  MaterialIndex material = 0;
};
struct MaterialRejected {
  MaterialIndex material = 0;
  std::string reason;
};
struct MaterialProduced {
  MaterialIndex material = 0;
  ItemIndex by = 0;
};
struct MaterialTolerated {
  MaterialIndex material = 0;
  ItemIndex item = 0;
};
struct ItemActivated {
  ItemIndex item = 0;
  StateIndex state = 0;
};
struct ItemNotApplicable {
  ItemIndex item = 0;
};
struct ItemCancelled {
  ItemIndex item = 0;
  ItemIndex because = 0;  ///< the failed item it came after
};
struct ItemTransitioned {
  ItemIndex item = 0;
  TransitionIndex transition = 0;
  StateIndex from = 0;
  StateIndex to = 0;
  std::map<std::string, std::string> fields;
  bool for_applicant = false;  ///< a window clerk fired the applicant's event for them (FireEvent::for_applicant)
};
struct ClockPaused {
  ItemIndex item = 0;
  std::string reason;
};
struct ClockResumed {
  ItemIndex item = 0;
};
struct SpecialProcedureStarted {
  ItemIndex item = 0;
  std::uint32_t procedure = 0;  ///< index into ItemModel::specials
  std::string reason;
};
struct SpecialProcedureEnded {
  ItemIndex item = 0;
  std::uint32_t procedure = 0;
  std::string result;
};
/// The running special procedure reached the lifecycle's warning point of its `max`.
struct SpecialProcedureWarned {
  ItemIndex item = 0;
  std::uint32_t procedure = 0;
};
/// The running special procedure went past its `max` (the lifecycle's `on overdue` runs).
struct SpecialProcedureOverdue {
  ItemIndex item = 0;
  std::uint32_t procedure = 0;
};
struct ItemWarned {
  ItemIndex item = 0;
};
struct ItemOverdue {
  ItemIndex item = 0;
};
struct CaseCompleted {};
struct CaseWithdrawn {
  std::string reason;
};
struct CaseDelivered {
  std::string channel;
};
struct CaseRated {
  int level = 5;
  std::string comment;
  std::optional<Timestamp> rectification_due;  ///< set for a bad rating
};
/// The personal values of a closed case were replaced by kErasedValue, in this event's
/// state and in every stored event, snapshot and outbox payload of the case before it.
struct PersonalDataErased {
  std::vector<FieldIndex> fields;  ///< the personal fields of the form, by index
  std::string policy;              ///< the bundle's retention as written, e.g. "retain 3 years"
};

/// One item deadline a new calendar version moved: what it was, and what it is now.
struct DeadlineMove {
  ItemIndex item = 0;
  Timestamp before = 0;
  Timestamp after = 0;
  friend bool operator==(const DeadlineMove&, const DeadlineMove&) = default;
};
/// The case counts on a new version of its calendar from now on (AdoptCalendar); `moves`
/// lists the item deadlines that moved (none when the new days change none of them).
struct CalendarAdopted {
  std::string calendar;  ///< the calendar's name
  int version = 0;
  std::string title;
  std::vector<DeadlineMove> moves;
};

/// A supervisor urged the department on the item (UrgeItem). Event::actor says who.
struct ItemUrged {
  ItemIndex item = 0;
  std::string note;
};

/// The applicant chose how to receive the results (ChooseDelivery); a postal choice also
/// derives the post office's order (outbox, system `post`). Version 1.
struct DeliveryChosen {
  std::string method;  ///< window | mail
  std::string recipient;
  std::string mobile;
  std::string address;
};

/// The rectification of a bad rating was answered (AnswerRectification); a text message to the
/// applicant's mobile (the notify system) is derived from it. Event::actor says who. Version 1.
struct RectificationAnswered {
  std::string answer;
};

/// A department decided its part of a joint item (DecidePart). Event::actor says who. Version 1.
struct ItemPartDecided {
  ItemIndex item = 0;
  std::uint32_t part = 0;  ///< index into ItemModel::joint
  bool approved = true;
  std::string note;
};

/// What erased personal values read as, wherever they stood.
/// Chinese, for it is what clerks see where the value stood (已删除: erased).
inline constexpr std::string_view kErasedValue = "〔已删除〕";

using EventBody = std::variant<CaseStarted, MaterialAttached, MaterialVerified, MaterialRejected, MaterialProduced,
                               MaterialTolerated, ItemActivated, ItemNotApplicable, ItemCancelled, ItemTransitioned,
                               ClockPaused, ClockResumed, ItemWarned, ItemOverdue, CaseCompleted, CaseWithdrawn,
                               CaseDelivered, CaseRated, PersonalDataErased, SpecialProcedureStarted,
                               SpecialProcedureEnded, SpecialProcedureWarned, SpecialProcedureOverdue, ItemUrged,
                               CalendarAdopted, DeliveryChosen, RectificationAnswered, ItemPartDecided>;

struct Event {
  Timestamp at = 0;
  std::string actor;
  EventBody body;
};

/// The event's type name, e.g. "ItemTransitioned".
std::string_view event_type(const EventBody& body);

/// Why a command was refused. Nothing changed.
///
/// Three readers: people read `message` (Chinese, naming titles of items, materials, states
/// and fields, never ids, and saying what to do); programs read `code`, `reason` and
/// `details` (ids); logs and developers read `detail` (English, "Expected ..., but ...").
/// Every reason and its details are listed in docs/runtime.md (Rejections).
struct Rejection {
  enum class Code {
    not_found,         ///< no such case, item, material or event
    wrong_state,       ///< the case or item is not in a state that allows it
    guard_false,       ///< the transition's guard does not hold (values in details)
    role_not_allowed,
    missing_material,
    missing_field,     ///< a field the transition requires (e.g. reason) is missing
    invalid_field,     ///< form data does not fit (every problem in field_errors)
    invalid,           ///< anything else malformed
  };
  struct FieldError {
    std::string field;
    std::string message;
  };
  Code code = Code::invalid;
  std::string message;  ///< for people: Chinese, titles not ids, what to do
  std::vector<FieldError> field_errors;  ///< for invalid_field: each message for people, like `message`
  std::string detail;   ///< for logs: "Expected ..., but ..." with ids (English)
  std::string reason;   ///< machine-readable, finer than `code`, e.g. "materials_incomplete"
  /// Machine-readable facts by name, ids only, e.g. {"materials": ["license", "id_card"]}.
  std::map<std::string, std::vector<std::string>> details;
};

std::string_view to_string(Rejection::Code code);

// ---------------------------------------------------------------------------------------
// decide and apply

struct DecideContext {
  const Workflow& workflow;
  const WorkCalendar& calendar;
  Timestamp now = 0;
};

/// Decides what a command does to a case: the events to record, or why not. A TimerFired for
/// a timer that no longer applies yields no events (not a rejection). For StartCase, `state`
/// is an empty Case whose id is the new case's id.
std::variant<std::vector<Event>, Rejection> decide(const DecideContext& context, const Case& state, const Command& command);

/// Applies one event. The workflow gives sizes and lifecycle facts; nothing else is read.
void apply(const Workflow& workflow, Case& state, const Event& event);

// ---------------------------------------------------------------------------------------
// Effects derived from a case (for the store's timer table, item rows and outbox)

/// The timers the case needs now: for each active item with a running clock, its warning and
/// overdue timers, and timed transitions out of its current state.
std::vector<TimerRecord> timers_for(const Workflow& workflow, const WorkCalendar& calendar, const Case& state);

/// The deadline of an active item with a running clock (0 when paused or not active).
Timestamp due_at(const Workflow& workflow, const WorkCalendar& calendar, const Case& state, ItemIndex item);

/// The deadline of an item whose clock started, whatever its phase now: its promised limit
/// from the clock's start, extended by its closed pauses (0 without a limit, or before the
/// clock started). For a finished item: the deadline it was held to.
Timestamp deadline_of(const Workflow& workflow, const WorkCalendar& calendar, const ItemState& item, ItemIndex index);

/// When a special procedure run reaches its `max` (the legal day rule, as for item limits).
Timestamp special_due_at(const Workflow& workflow, const WorkCalendar& calendar, ItemIndex item, const SpecialProcedureRun& run);
/// The working minutes a special procedure run took (until `now` while it runs).
std::int64_t special_minutes(const WorkCalendar& calendar, const SpecialProcedureRun& run, Timestamp now);

/// Whether the command's role (and department) may control the item's clock: pause, resume,
/// start and end special procedures. The staff roles its lifecycle names in `by` (any staff
/// role for an event without `by`), and the reviewer of the item's own department; never
/// the applicant. Empty when allowed, else why not.
std::optional<Rejection> clock_control_refusal(const Workflow& workflow, ItemIndex item, const std::string& role,
                                               const std::string& department);

/// When a closed case's retention ends: its last change (updated_at) plus the bundle's
/// `retain` period in calendar days, months or years (a month end that does not exist is
/// the month's last day). nullopt when the case is running, already erased, or its bundle
/// retains nothing.
std::optional<Timestamp> retention_ends(const Workflow& workflow, const Case& state);

/// The personal values of a case that erasure replaces: the text of its personal fields
/// (RetentionPolicy::personal) and its masked applicant.
std::vector<std::string> personal_values(const Workflow& workflow, const Case& state);

/// True when the material's `when` holds for the case (materials without one always apply).
bool material_applies(const Workflow& workflow, const Case& state, MaterialIndex material);

/// The timers of one item (those timers_for lists for it), appended to `out`. Nothing unless
/// the case is running. A pure function of the item's state, the case's id and its status.
void item_timers(const Workflow& workflow, const WorkCalendar& calendar, const Case& state, ItemIndex item,
                 std::vector<TimerRecord>& out);

/// One row per item, for worklists.
std::vector<ItemRow> item_rows(const Workflow& workflow, const WorkCalendar& calendar, const Case& state);
/// The row of one item (item_rows lists them all): a pure function of the item's state.
ItemRow item_row(const Workflow& workflow, const WorkCalendar& calendar, const Case& state, ItemIndex item);

/// Adapter-call intents for the committed events (call/notify/escalate actions), each with an
/// idempotency key that is the same on every retry: case/item/event sequence/action.
std::vector<OutboxRecord> outbox_for(const Workflow& workflow, const Case& state, const std::vector<Event>& events,
                                     std::uint64_t first_sequence);

/// The choices of an `enum(...)` field, or of each element of a `list(enum(...))` field (in
/// declaration order, with their titles); null for any other field.
const std::vector<FieldChoice>* field_choices(const FieldModel& field);

/// Why `value` is not one of the field's choices, for people (Chinese, naming the field's
/// title and every choice's title and value; the value itself masked as personal numbers
/// are); empty when it is one, or the field has no choices.
std::string choice_problem(const FieldModel& field, std::string_view value);

/// The field's title for messages (its name when it has none).
std::string field_title(const FieldModel& field);

/// The form with its ID-number, credit-code and phone fields made canonical
/// (dsl::normalise_identifier: blanks around dropped, full-width characters made ASCII, letters
/// upper-cased); other fields as given.
std::map<std::string, dsl::Value> normalise_identifiers(const Workflow& workflow, const std::map<std::string, dsl::Value>& form);

/// Validates form values against the workflow's fields: every problem at once. An `enum` value,
/// and each element of a `list(enum)` value, must be one of the declared choices.
std::vector<Rejection::FieldError> validate_form(const Workflow& workflow, const std::map<std::string, dsl::Value>& form,
                                                 Timestamp now);

/// The guard environment of an item (materials.*, item.*, form.*), in guard_scope() order.
std::vector<dsl::Value> guard_slots(const Workflow& workflow, const WorkCalendar& calendar, const Case& state,
                                    ItemIndex item, Timestamp now);

}  // namespace onevisit::engine
