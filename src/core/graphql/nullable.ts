import { NotFoundError } from '../upstream/errors.js';

/**
 * For a single-object field (`customer(platformId:)`): a record the platform
 * does not have is `null`, as GraphQL clients expect, not an error. Every other
 * failure stays an error.
 */
export async function orNull<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}
