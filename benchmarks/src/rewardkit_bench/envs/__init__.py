"""The grounding and perception lab's worlds, drawn procedurally and seeded (issue #35):
screens with elements to click or box (:mod:`.screens`), short clips with an object over
a time span (:mod:`.clips`) and rooms with objects at metric positions
(:mod:`.layouts`). Each generator is a pure function of its seed: the same seed draws the
same pixels and the same targets. Nothing is downloaded."""
