export interface Namespace { readonly namespace: string }
