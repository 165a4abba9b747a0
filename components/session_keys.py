"""Every session-state and widget key, declared once: pages, components and tests import them from here."""

# ---------------------------------------------------------------- shared by several pages
IMAGE_SOURCE = "image_source"  # the chosen input image, shared by the Filters and Pooling pages
LEARNER = "learner_token"  # str: who this browser is (components.learner); keys the saved runs and jobs
TRAINING_NOTICES = "training_notices"  # [(run name, status, message)] for jobs that ended without a run
TRAINING_START_ERROR = "training_start_error"  # why the last Train / preset click could not start
PRESENTATION = "presentation_mode"  # bool: presentation mode on (components.presentation, ?present=1)
PRESENTATION_TOGGLE = "presentation_toggle"  # the sidebar toggle widget; copied from PRESENTATION each run
APP_RAN = "app_ran"  # True once app.py has run in this session: its pages run through st.navigation
PAGE_LINKS = "page_links"  # {page script hash: the link parameters it last wrote}: a page reopens as it was left
ARCHITECTURE_CONFIG = "architecture_config"  # CNNConfig dict built on the Architecture page
TRAIN_DESIGN_REQUEST = "train_design_request"  # set by "Train this network": Training preselects the design

# ---------------------------------------------------------------- Architecture page

# ---------------------------------------------------------------- Filters page
FILTERS_QUIZ_ROUND = "filters_quiz_round"  # int: which 'Guess first' question the Filters page shows
FILTERS_QUIZ_ANSWERED = "filters_quiz_answered"  # (question signature, chosen option) once checked

# ---------------------------------------------------------------- Pooling page

# ---------------------------------------------------------------- Training page

# ---------------------------------------------------------------- Inspect page

# ---------------------------------------------------------------- Predict page

# ---------------------------------------------------------------- Week 3 tour
TOUR_STEP = "tour_step"  # int: the Week 3 tour's current step, 0-based (also ?step=, 1-based)
