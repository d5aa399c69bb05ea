typedef int placeholder_unit; /* replaced by the real module */
