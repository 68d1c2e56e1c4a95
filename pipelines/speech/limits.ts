/** Longest transcript stored, in characters (about 2 minutes of speech; the label indexes hold it whole). */
export const MAX_TRANSCRIPT_CHARS = 2000;
