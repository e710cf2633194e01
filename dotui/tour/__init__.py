"""The guided tour: one lesson per concept of the Durable Objects model.

Each lesson sets up objects of its own (named ``tour-…``) of the bundled
classes in ``objects/``, runs a real scenario against the engine facade
(concurrent calls included), and narrates what happened, pointing at what the
screen shows. Every claim a lesson narrates is also checked, so
``dotui tour --check`` runs the whole tour headless and fails if the engine
stops behaving as the tour says. Nothing here imports a UI library: the TUI,
the REPL and the command line render the same lessons (docs/tour.md).
"""

from .lessons import LESSONS, lesson_named
from .pacing import Pacing, TourStopped
from .script import Check, Lesson, Narrator, Point, Run, Step, run_lesson

__all__ = [
    "LESSONS",
    "Check",
    "Lesson",
    "Narrator",
    "Pacing",
    "Point",
    "Run",
    "Step",
    "TourStopped",
    "lesson_named",
    "run_lesson",
]
