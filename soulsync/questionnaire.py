"""The ten questions of the SoulSync questionnaire, defined once (what a question is:
soulsync/question.py).

Everything that needs to know a question's key, its allowed codes or their labels (the training
data loader, the model's input encoding, the API schemas, the docs and the tests) reads it from
here. The codes are the wire format of the contract with the existing clients
(docs/integration.md: an alphabetical label encoding of the survey's answers) and must never
change; the model's internal representation is its own business. Texts and labels are written
in English, the survey's language, as Messages: the message catalogs (soulsync/translations) say
them in the other languages. The English option labels are the survey's values (training reads
the data by them) and never change; a label a language used to show is still accepted as an
answer (`Option.former_labels`).
"""

from __future__ import annotations

from soulsync.question import Kind, Option, Question
from soulsync.translations import Message


def _scale(low: int, high: int) -> tuple[Option, ...]:
    return tuple(Option(code, str(code)) for code in range(low, high + 1))


_NO_YES = (Option(0, Message("No")), Option(1, Message("Yes")))
#: What the ends of the 1-to-5 scales mean, as their questions say it.
_LOW_HIGH = (Message("very low"), Message("very high"))
# TRANSLATORS: a factor's answer in hours, e.g. "4 hours".
_HOURS = Message("{code} hours")

QUESTIONS: tuple[Question, ...] = (
    Question(
        key="Gender",
        name_en=Message("Gender"),
        text_en=Message("What is your gender?"),
        kind=Kind.CATEGORICAL,
        options=(Option(0, Message("Female")), Option(1, Message("Male"))),
        professional_column="Gender",
        student_column="Gender",
    ),
    Question(
        key="WorkOrStudent",
        name_en=Message("Student or working professional"),
        text_en=Message("Are you a working professional or a student?"),
        kind=Kind.CATEGORICAL,
        options=(
            Option(0, Message("Student"), former_labels=("Pelajar/Mahasiswa",)),
            Option(1, Message("Working Professional"), former_labels=("Pekerja Profesional",)),
        ),
        professional_column=None,
        student_column=None,
    ),
    Question(
        key="Pressure",
        name_en=Message("Academic or work pressure"),
        text_en=Message(
            "Academic pressure (students) or work pressure (professionals), "
            "from 1 (very low) to 5 (very high)"
        ),
        kind=Kind.SCALE,
        options=_scale(1, 5),
        professional_column="Work Pressure",
        student_column="Academic Pressure",
        anchors=_LOW_HIGH,
    ),
    Question(
        key="Satisfaction",
        name_en=Message("Study or job satisfaction"),
        text_en=Message(
            "Study satisfaction (students) or job satisfaction (professionals), "
            "from 1 (very low) to 5 (very high)"
        ),
        kind=Kind.SCALE,
        options=_scale(1, 5),
        professional_column="Job Satisfaction",
        student_column="Study Satisfaction",
        anchors=_LOW_HIGH,
    ),
    Question(
        key="SleepDr",
        name_en=Message("Sleep duration"),
        text_en=Message("How long do you usually sleep?"),
        kind=Kind.CATEGORICAL,
        # Alphabetical codes, not in order of hours: 2 is the shortest sleep, 3 the longest.
        options=(
            Option(0, Message("5-6 hours")),
            Option(1, Message("7-8 hours")),
            Option(2, Message("Less than 5 hours")),
            Option(3, Message("More than 8 hours")),
        ),
        professional_column="Sleep Duration",
        student_column="Sleep Duration",
        display_order=(2, 0, 1, 3),  # shortest first
    ),
    Question(
        key="DietHabits",
        name_en=Message("Dietary habits"),
        text_en=Message("How would you describe your dietary habits?"),
        kind=Kind.CATEGORICAL,
        options=(
            Option(0, Message("Healthy")),
            Option(1, Message("Moderate"), former_labels=("Sedang",)),
            Option(2, Message("Unhealthy")),
        ),
        professional_column="Dietary Habits",
        student_column="Dietary Habits",
    ),
    Question(
        key="SuicidalTh",
        name_en=Message("Suicidal thoughts"),
        text_en=Message("Have you ever had suicidal thoughts?"),
        kind=Kind.CATEGORICAL,
        options=_NO_YES,
        professional_column="Have you ever had suicidal thoughts ?",
        student_column="Have you ever had suicidal thoughts ?",
    ),
    Question(
        key="WSHours",
        name_en=Message("Study or work hours per day"),
        text_en=Message(
            "Study hours (students) or work hours (professionals) per day, from 0 to 12"
        ),
        kind=Kind.SCALE,
        options=_scale(0, 12),
        professional_column="Work Hours",
        student_column="Study Hours",
        unit=_HOURS,
    ),
    Question(
        key="FinancialStress",
        name_en=Message("Financial stress"),
        text_en=Message("Financial stress, from 1 (very low) to 5 (very high)"),
        kind=Kind.SCALE,
        options=_scale(1, 5),
        professional_column="Financial Stress",
        student_column="Financial Stress",
        anchors=_LOW_HIGH,
    ),
    Question(
        key="FamHistory",
        name_en=Message("Family history of mental illness"),
        text_en=Message("Is there a history of mental illness in your family?"),
        kind=Kind.CATEGORICAL,
        options=_NO_YES,
        professional_column="Family History of Mental Illness",
        student_column="Family History of Mental Illness",
    ),
)


#: The wire keys in the model's input order.
KEYS: tuple[str, ...] = tuple(question.key for question in QUESTIONS)
BY_KEY: dict[str, Question] = {question.key: question for question in QUESTIONS}

#: The question whose "yes" must always lead to help being shown, whatever the score.
SUICIDAL_THOUGHTS_KEY = "SuicidalTh"

#: The question that says which population a person belongs to. Students and working
#: professionals answer differently and have very different base rates, so the model card's
#: decision rules and figures are given for each group, by these names.
GROUP_KEY = "WorkOrStudent"
#: Its column in an array of answers in KEYS order.
GROUP_COLUMN = KEYS.index(GROUP_KEY)
STUDENT, PROFESSIONAL = 0, 1  # its codes
GROUPS: dict[int, str] = {STUDENT: "students", PROFESSIONAL: "professionals"}

#: The contract's example answer, byte for byte what the old client sends.
CONTRACT_EXAMPLE: dict[str, int] = {
    "Gender": 1,
    "WorkOrStudent": 0,
    "Pressure": 4,
    "Satisfaction": 3,
    "SleepDr": 2,
    "DietHabits": 1,
    "SuicidalTh": 0,
    "WSHours": 8,
    "FinancialStress": 3,
    "FamHistory": 1,
}

#: The reply's `message` and `result` strings that clients of the old service read.
PREDICTION_MESSAGE = "Prediction successful"
POSITIVE_RESULT = "Depression"  # also the survey's target column
NEGATIVE_RESULT = "No Depression"
